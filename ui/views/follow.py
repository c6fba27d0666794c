"""Keep a view at its newest row until the user scrolls away from it."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QObject,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import QAbstractItemView, QAbstractSlider, QScrollBar


class Followable(Protocol):
    """What RowFollower needs of a view: a QAbstractItemView has all of it, and so has
    the sequence diagram."""

    def model(self) -> QAbstractItemModel: ...
    def selectionModel(self) -> QItemSelectionModel: ...
    def verticalScrollBar(self) -> QScrollBar: ...
    def scrollToBottom(self) -> None: ...


class RowFollower(QObject):
    """Keeps ``view`` scrolled to its bottom while it is *following*.

    Only the user changes that: scrolling with the scroll bar or the wheel (its
    actions), or a view's own keys (it calls ``user_moved``), stops following when
    it leaves the bottom and starts it again at the bottom; ``follow()`` (a Follow
    button) starts it again anywhere. Nothing else does: rows arriving, the view
    getting shorter or taller (a lesson's banner, a zoom, full screen, a dock), a
    reset, the range shrinking to nothing for a moment. While following, each of
    those scrolls to the bottom again, once the events in flight are handled.

    A selected row does not stop following (presentation mode always has one). With
    ``keep_selected`` (the inspector's table, where one reads a row) it follows only
    while the selected row stays in view: a row selected near the top keeps its place.
    Attach it after the view's model is set; ``view`` (a QObject) owns it.

    Signals:
        changed(bool): following started (True) or stopped (False).
    """

    changed = Signal(bool)

    def __init__(self, view: Followable, keep_selected: bool = False) -> None:
        super().__init__(view if isinstance(view, QObject) else None)
        self._view = view
        self._keep_selected = keep_selected
        self.following = True
        self._timer = QTimer(self)  # owned, so it dies with the view
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._scroll_now)
        model = view.model()
        model.rowsInserted.connect(self._soon)
        model.modelReset.connect(self._soon)
        bar = view.verticalScrollBar()
        bar.rangeChanged.connect(self._soon)
        bar.actionTriggered.connect(self._user_scrolled)
        self._keyed = QTimer(self)  # owned: it dies with the view
        self._keyed.setSingleShot(True)
        self._keyed.setInterval(0)
        self._keyed.timeout.connect(self.user_moved)
        if isinstance(view, QAbstractItemView):  # its keys move it (End: to the newest)
            view.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress:
            self._keyed.start()  # once the key has moved the view
        return False

    def at_bottom(self, value: int | None = None) -> bool:
        bar = self._view.verticalScrollBar()
        return (bar.value() if value is None else value) >= bar.maximum() - 2

    def follow(self) -> None:
        """Follow from now on: to the bottom, and stay there as rows come."""
        self._set(True)
        self._soon()

    def user_moved(self) -> None:
        """The user moved the view (a key): follow only if it is at the bottom now."""
        self._set(self.at_bottom())

    def _user_scrolled(self, action: int) -> None:
        if action == QAbstractSlider.SliderAction.SliderNoAction.value:
            return
        # the slider's position has moved; its value follows just after this signal
        self._set(self.at_bottom(self._view.verticalScrollBar().sliderPosition()))

    def _set(self, on: bool) -> None:
        if on != self.following:
            self.following = on
            self.changed.emit(on)

    def _soon(self, *_: object) -> None:
        if self.following and not self._timer.isActive():
            self._timer.start()

    def _scroll_now(self) -> None:
        bar = self._view.verticalScrollBar()
        if not self.following or bar.value() == bar.maximum():
            return
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
