"""A read-only hex + text dump of one message's raw bytes: offset | hex | text."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

BYTES_PER_LINE = 16


def hex_dump(data: bytes, width: int = BYTES_PER_LINE) -> str:
    """Lines of ``offset  hex bytes  |text|``; unprintable bytes show as ``.``."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset:offset + width]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        hex_part = f"{left:<23}  {right:<23}"
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {hex_part}  |{text}|")
    return "\n".join(lines)


class HexView(QPlainTextEdit):
    """Shows the bytes of the selected message only; computed when it is set."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("Select a message to see its bytes.")

    def show_bytes(self, data: bytes, size: int | None = None) -> None:
        """Dump ``data``; when ``size`` says more crossed than was kept, say so."""
        text = hex_dump(data)
        if size is not None and size > len(data):
            text += f"\n… {size - len(data):,} more bytes crossed; only the first "
            text += f"{len(data):,} were kept."
        elif not data:
            text = "(no bytes)"
        self.setPlainText(text)

    def clear_bytes(self) -> None:
        self.clear()
