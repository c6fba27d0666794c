"""Keep a view at its newest row only while the user is watching the end."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QAbstractItemModel, QItemSelectionModel, QObject, QTimer
from PySide6.QtWidgets import QScrollBar


class Followable(Protocol):
    """What RowFollower needs of a view: a QAbstractItemView has all of it, and so has
    the sequence diagram."""

    def model(self) -> QAbstractItemModel: ...
    def selectionModel(self) -> QItemSelectionModel: ...
    def verticalScrollBar(self) -> QScrollBar: ...
    def scrollToBottom(self) -> None: ...


class RowFollower(QObject):
    """Scrolls ``view`` to the bottom when rows arrive, if it was at the bottom and
    nothing was selected; otherwise the view stays exactly where the user left it.

    Attach it after the view's model is set; ``view`` (a QObject) owns it.
    """

    def __init__(self, view: Followable) -> None:
        super().__init__(view if isinstance(view, QObject) else None)
        self._view = view
        self._follow = True
        self._pending = False
        self._timer = QTimer(self)  # owned, so it dies with the view
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._scroll_now)
        model = view.model()
        model.rowsAboutToBeInserted.connect(self._before_insert)
        model.rowsInserted.connect(self._after_insert)
        model.modelReset.connect(self._after_insert)

    def at_bottom(self) -> bool:
        bar = self._view.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _selected(self) -> bool:
        selection = self._view.selectionModel()
        return selection is not None and selection.hasSelection()

    def _before_insert(self, *_: object) -> None:
        if not self._pending:
            self._follow = self.at_bottom() and not self._selected()

    def _after_insert(self, *_: object) -> None:
        if self._follow and not self._pending:
            self._pending = True
            self._timer.start()

    def _scroll_now(self) -> None:
        self._pending = False
        if not self._selected():
            self._view.scrollToBottom()
