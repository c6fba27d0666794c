"""Keep a view at its newest row only while the user is watching the end."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QAbstractItemModel, QItemSelectionModel, QObject, QTimer
from PySide6.QtWidgets import QAbstractItemView, QScrollBar


class Followable(Protocol):
    """What RowFollower needs of a view: a QAbstractItemView has all of it, and so has
    the sequence diagram."""

    def model(self) -> QAbstractItemModel: ...
    def selectionModel(self) -> QItemSelectionModel: ...
    def verticalScrollBar(self) -> QScrollBar: ...
    def scrollToBottom(self) -> None: ...


class RowFollower(QObject):
    """Scrolls ``view`` to the bottom when rows arrive, if it was at the bottom just
    before they came, whether or not a row is selected (the selection stays; in
    presentation mode a message is always selected, and new traffic must still come
    into view); scrolled up, the view stays exactly where the user left it. The same
    when the view itself grows shorter (a lesson's text above it grew): at the bottom
    it stays at the bottom.

    With ``keep_selected`` (the inspector's table, where one reads a row) it follows
    only while the selected row stays in view: a row selected near the top keeps
    its place. Attach it after the view's model is set; ``view`` (a QObject) owns it.
    """

    def __init__(self, view: Followable, keep_selected: bool = False) -> None:
        super().__init__(view if isinstance(view, QObject) else None)
        self._view = view
        self._keep_selected = keep_selected
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
        bar = view.verticalScrollBar()
        self._at_end = True  # the view showed its last row when last scrolled or sized
        bar.valueChanged.connect(self._moved)
        bar.rangeChanged.connect(self._range_changed)

    def at_bottom(self) -> bool:
        bar = self._view.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _moved(self, *_: object) -> None:
        self._at_end = self.at_bottom()

    def _range_changed(self, *_: object) -> None:
        """The rows or the view's height changed: keep the end in view if it was."""
        if self._at_end and not self._pending and not self.at_bottom():
            self._pending = True
            self._timer.start()

    def _before_insert(self, *_: object) -> None:
        if not self._pending:
            self._follow = self.at_bottom()

    def _after_insert(self, *_: object) -> None:
        if self._follow and not self._pending:
            self._pending = True
            self._timer.start()

    def _scroll_now(self) -> None:
        self._pending = False
        bar = self._view.verticalScrollBar()
        before, shown = bar.value(), self._keep_selected and self._selected_in_view()
        self._view.scrollToBottom()
        if shown and not self._selected_in_view():
            bar.setValue(before)  # the selected row would leave the view: stay

    def _selected_in_view(self) -> bool:
        """Whether a selected row shows in the view (False if none is selected)."""
        view = self._view
        selection = view.selectionModel()
        rows = selection.selectedRows() if selection is not None else []
        if not rows or not isinstance(view, QAbstractItemView):
            return False
        return view.visualRect(rows[0]).intersects(view.viewport().rect())
