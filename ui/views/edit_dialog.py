"""Edit a held message's bytes before the Wire forwards them: as text or as hex.

The Text tab shows the bytes as UTF-8 (line ends as the message had them: a
message with CRLF gets CRLF back, whatever the editor keeps); the Hex tab shows
every byte as two hex digits. The tab on top when OK is pressed decides.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lab.wire.hold import HeldMessage
from ui.views.hexview import fixed_font


def to_text(data: bytes) -> str | None:
    """The bytes as text for editing (None if they are not UTF-8)."""
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


def from_text(text: str, original: bytes) -> bytes:
    """Edited text back to bytes, with the original's line ends (CRLF or LF)."""
    data = text.encode("utf-8")
    return data.replace(b"\n", b"\r\n") if b"\r\n" in original else data


def to_hex(data: bytes) -> str:
    return "\n".join(data[i:i + 16].hex(" ") for i in range(0, len(data), 16))


def from_hex(text: str) -> bytes:
    """Hex digits (spaces and line breaks ignored) to bytes; ValueError if not hex."""
    return bytes.fromhex("".join(text.split()))


class EditDialog(QDialog):
    """Edit ``held``'s bytes; ``edited()`` gives the new bytes once accepted."""

    def __init__(self, held: HeldMessage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.held = held
        self.setWindowTitle(f"Edit held message #{held.id}")
        layout = QVBoxLayout(self)
        note = QLabel(f"#{held.id} {held.summary}\nThe Wire forwards your version; "
                      "the capture keeps both.", self)
        note.setWordWrap(True)
        layout.addWidget(note)
        self.tabs = QTabWidget(self)
        self.text = QPlainTextEdit(self)
        self.text.setFont(fixed_font())
        self.hex = QPlainTextEdit(self)
        self.hex.setFont(fixed_font())
        self.hex.setPlainText(to_hex(held.data))
        text = to_text(held.data)
        self.tabs.addTab(self.text, "Text")
        self.tabs.addTab(self.hex, "Hex")
        if text is None:
            self.tabs.setTabEnabled(0, False)
            self.tabs.setTabToolTip(0, "These bytes are not UTF-8 text: edit them as hex")
            self.tabs.setCurrentWidget(self.hex)
        else:
            self.text.setPlainText(text)
        self.tabs.currentChanged.connect(self._sync)
        layout.addWidget(self.tabs, 1)
        self.error = QLabel(self)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Forward edited")
        ok.setToolTip("Send these bytes instead of the held ones")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 420)

    def edited(self) -> bytes:
        """The bytes as the tab on top says (ValueError for bad hex)."""
        if self.tabs.currentWidget() is self.hex:
            return from_hex(self.hex.toPlainText())
        return from_text(self.text.toPlainText(), self.held.data)

    def _sync(self, index: int) -> None:
        """Carry an edit over when the user switches tabs."""
        try:
            if self.tabs.widget(index) is self.hex:
                self.hex.setPlainText(to_hex(from_text(self.text.toPlainText(),
                                                       self.held.data)))
            else:
                text = to_text(from_hex(self.hex.toPlainText()))
                if text is not None:
                    self.text.setPlainText(text)
        except ValueError as exc:
            self.error.setText(f"Not hex: {exc}")

    def _accept(self) -> None:
        try:
            self.edited()
        except ValueError as exc:
            self.error.setText(f"Not hex: {exc}")
            return
        self.accept()
