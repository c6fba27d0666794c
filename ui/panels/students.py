"""A server panel's "Student passwords" row: how many students get a password of
their own (lab/servers/students.py), and the passwords to hand out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lab.servers.students import MAX_STUDENTS
from ui import theme
from ui.engine_thread import spawn


class StudentsRow(QWidget):
    """A server's "Student passwords" spin box (0 = off), its Apply button and
    the passwords to hand out, as the running server lists them. ``what`` is what a
    student's password logs in to (the tooltip), ``opens`` what each one opens (the
    hand-out note); Apply sets the server option ``students`` with ``set_options``
    (the panel's: it restarts a running server and says whether it took)."""

    def __init__(self, what: str, opens: str,
                 set_options: Callable[..., Awaitable[bool]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.set_options = set_options
        self.spin = QSpinBox(self)
        self.spin.setRange(0, MAX_STUDENTS)
        self.spin.setSpecialValueText("off")
        self.spin.setToolTip(
            f"Give each student a password of their own ({what}): student1, student2… "
            f"{opens}. The lab's one password then works only from this machine. 0 turns "
            "it off. The passwords stay the same when the server restarts (cslab serve "
            "--students N)")
        self.opens = opens
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setToolTip("Use this many student passwords (a running server "
                                     "restarts on the same port; open sessions end)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(lambda: spawn(self.apply(self.spin.value())))
        self.spin.valueChanged.connect(lambda _: self.apply_button.setEnabled(True))
        self.passwords_label = QLabel(self)
        self.passwords_label.setWordWrap(True)
        self.passwords_label.setTextFormat(Qt.TextFormat.PlainText)
        self.passwords_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.passwords_label.setToolTip("The passwords to hand out: each student logs in "
                                        "with their own user name and password")
        theme.set_tone(self.passwords_label, "box")
        self.passwords_label.hide()
        self.show_box = QCheckBox("Show", self)
        self.show_box.setToolTip("Show the passwords (hidden at first: the window may be "
                                 "projected to the whole class)")
        self.show_box.toggled.connect(lambda _: self._show_list())
        self.show_box.hide()
        self._students: tuple[tuple[str, str], ...] = ()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Student passwords", self))
        row.addWidget(self.spin, 1)
        row.addWidget(self.apply_button)
        row.addWidget(self.show_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.passwords_label)

    async def apply(self, count: int) -> bool:
        """Give ``count`` students passwords of their own (0: none) from now on."""
        self.apply_button.setEnabled(False)
        if not await self.set_options(students=str(count)):
            self.apply_button.setEnabled(True)
            return False
        return True

    def show_students(self, students: tuple[tuple[str, str], ...]) -> None:
        """Show the running server's student users and passwords (none: off)."""
        if not self.apply_button.isEnabled():  # not while the user picks a number
            self.spin.blockSignals(True)
            self.spin.setValue(len(students))
            self.spin.blockSignals(False)
        self._students = students
        self._show_list()

    def _show_list(self) -> None:
        students, shown = self._students, self.show_box.isChecked()
        lines = [f"{user}: {password if shown else '•' * 8}" for user, password in students]
        self.passwords_label.setText("\n".join([
            f"Hand these out ({self.opens}); the lab password works only from this "
            "machine now.", *lines]) if students else "")
        self.passwords_label.setVisible(bool(students))
        self.show_box.setVisible(bool(students))
