"""A one-line question inside a panel (a new name, or "Delete x?"), instead of a
modal dialog: it never blocks the window, and tests can answer it like any field."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget


class InlinePrompt(QWidget):
    """Hidden until ``ask``; OK calls the answer with the text, ✕ or Escape dismisses."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.edit = QLineEdit(self)
        self.edit.returnPressed.connect(self.accept)
        self.ok_button = QPushButton(self)
        self.ok_button.clicked.connect(self.accept)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Never mind")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.label)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.ok_button)
        layout.addWidget(self.close_button)
        self._answer: Callable[[str], object] | None = None
        self.hide()

    def ask(self, question: str, verb: str, text: str | None,
            answer: Callable[[str], object]) -> None:
        """Show ``question`` with an OK button named ``verb``; with ``text`` None there
        is nothing to type (a yes/no question)."""
        self.label.setText(question)
        self.ok_button.setText(verb)
        self.edit.setVisible(text is not None)
        self.edit.setText(text or "")
        self._answer = answer
        self.show()
        if text is not None:
            self.edit.setFocus()
            self.edit.selectAll()
        else:
            self.ok_button.setFocus()

    def accept(self) -> None:
        answer, self._answer = self._answer, None
        self.hide()
        if answer is not None:
            answer(self.edit.text().strip())

    def dismiss(self) -> None:
        self._answer = None
        self.hide()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.dismiss()
        else:
            super().keyPressEvent(event)
