"""A read-only log of rich-text lines whose colours follow the look."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ui import theme


class RichLog(QPlainTextEdit):
    """The last ``lines`` lines, each made by a function of no arguments that returns
    its rich text (with ``theme.span`` for a colour of meaning). The functions are
    kept, so that a change of look makes every line again in the new colours."""

    def __init__(self, lines: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(lines)
        self._makers: deque[Callable[[], str]] = deque(maxlen=lines)
        theme.on_look_change(self, self._make_again)

    def add_line(self, make: Callable[[], str]) -> None:
        """Append the line ``make()`` returns now (and again on a change of look)."""
        self._makers.append(make)
        self.appendHtml(make())

    def clear(self) -> None:
        self._makers.clear()
        super().clear()

    def _make_again(self) -> None:
        bar = self.verticalScrollBar()
        at_end = bar.value() == bar.maximum()
        position = bar.value()
        super().clear()
        for make in self._makers:
            self.appendHtml(make())
        bar.setValue(bar.maximum() if at_end else position)
