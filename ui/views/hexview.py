"""A read-only hex + text dump of one message's raw bytes: offset | hex | text."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase, QResizeEvent
from PySide6.QtWidgets import QApplication, QPlainTextEdit, QWidget

BYTES_PER_LINE = 16
#: Characters a 16-byte line takes: offset, two hex groups, the text column.
WIDE_LINE_CHARS = 8 + 2 + 23 + 2 + 23 + 2 + 18


def fixed_font() -> QFont:
    """The desktop's fixed-width font at the application font's size, so that it
    starts at the zoom in use (ui.presentation scales it from there)."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    app = QApplication.font()
    if app.pointSizeF() > 0:
        font.setPointSizeF(app.pointSizeF())
    elif app.pixelSize() > 0:
        font.setPixelSize(app.pixelSize())
    return font


def hex_dump(data: bytes, width: int = BYTES_PER_LINE) -> str:
    """Lines of ``offset  hex bytes  |text|`` (hex in groups of 8); unprintable bytes
    show as ``.``. ``width`` is the bytes per line: 16, or 8 for a narrow pane."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset:offset + width]
        groups = [" ".join(f"{b:02x}" for b in chunk[i:i + 8]).ljust(23)
                  for i in range(0, width, 8)]
        hex_part = "  ".join(groups)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {hex_part}  |{text}|")
    return "\n".join(lines)


class HexView(QPlainTextEdit):
    """Shows the bytes of the selected message only; computed when it is set."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(fixed_font())
        self.setPlaceholderText("Select a message to see its bytes.")
        self._shown: tuple[bytes, int | None] | None = None
        self._width = BYTES_PER_LINE

    def show_bytes(self, data: bytes, size: int | None = None) -> None:
        """Dump ``data``; when ``size`` says more crossed than was kept, say so."""
        self._shown = (data, size)
        self._width = self._fitting_width()
        text = hex_dump(data, self._width)
        if size is not None and size > len(data):
            text += f"\n… {size - len(data):,} more bytes crossed; only the first "
            text += f"{len(data):,} were kept."
        elif not data:
            text = "(no bytes)"
        self.setPlainText(text)

    def clear_bytes(self) -> None:
        self._shown = None
        self.clear()

    def _fitting_width(self) -> int:
        """16 bytes a line when the pane is wide enough for them, else 8."""
        chars = self.viewport().width() // max(1, self.fontMetrics().horizontalAdvance("0"))
        return BYTES_PER_LINE if chars >= WIDE_LINE_CHARS else BYTES_PER_LINE // 2

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._shown is not None and self._fitting_width() != self._width:
            self.show_bytes(*self._shown)
