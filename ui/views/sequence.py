"""The wire as a live sequence diagram: one lane per client and per server, one arrow
per message, time flowing down.

A custom-painted QAbstractScrollArea over a SequenceModel: rows have one fixed
height, so the scroll range is rows × height and only the rows (and lanes) in view are
ever painted (100,000 messages cost what 40 do). The lane heads are pinned above the
rows. The selection is a QItemSelectionModel over the same rows, normally the
inspector table's own, so selecting on either side selects on both.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFileDialog,
    QMenu,
    QToolButton,
    QToolTip,
    QWidget,
)

from ui.models.sequence import SequenceModel
from ui.views.follow import RowFollower
from ui.views.sequence_export import describe, label_actions, make_actions, write_export
from ui.views.sequence_paint import DiagramPainter, Layout, Marks

Flag = QItemSelectionModel.SelectionFlag


class _Header(QWidget):
    """The lane heads, pinned above the rows (in the scroll area's top margin)."""

    def __init__(self, view: SequenceView) -> None:
        super().__init__(view)
        self.view = view

    def paintEvent(self, event: QPaintEvent) -> None:
        view = self.view
        p = QPainter(self)
        view.painter.paint_header(p, view.diagram_layout(), view.horizontalScrollBar().value(),
                                  self.width())
        p.end()


class SequenceView(QAbstractScrollArea):
    """The diagram. Click a row (or Up/Down/Home/End) to select it; Shift extends a
    range for export; the context menu exports as PNG or SVG.

    Signals:
        clicked(QModelIndex): a row was clicked (an index of ``model().rows``).
        exported(str): what an export did, for the status bar.
    """

    clicked = Signal(QModelIndex)
    exported = Signal(str)

    def __init__(self, model: SequenceModel, selection: QItemSelectionModel | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.diagram = model
        self.selection = selection or QItemSelectionModel(model.rows, self)
        self.painter = DiagramPainter(model, self.font(), self.palette())
        self._layout: Layout | None = None
        self._anchor = QPersistentModelIndex()
        self._selecting = False
        self.folder = Path.home()
        self.header = _Header(self)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(False)
        model.rows_changed.connect(self._rows_changed)
        model.lanes_changed.connect(self._lanes_changed)
        self.selection.currentRowChanged.connect(self._current_changed)
        self.selection.selectionChanged.connect(self.viewport().update)
        self.export_actions: dict[str, QAction] = make_actions(self, self.choose_export)
        self._menu: QMenu | None = None
        self.follower = RowFollower(self)
        self.follow_button = QToolButton(self)
        self.follow_button.setObjectName("follow-newest")
        self.follow_button.setText("⤓ Newest")
        self.follow_button.setToolTip("Scroll to the newest arrow and keep it in view as "
                                      "messages come (End)")
        self.follow_button.setAutoRaise(False)
        self.follow_button.clicked.connect(self.follower.follow)
        self.follow_button.hide()
        self.follower.changed.connect(self._following_changed)
        self._place_header()
        self._update_ranges()

    # ---- what RowFollower (and tests) use ----------------------------------------------

    def model(self) -> QAbstractItemModel:
        return self.diagram.rows

    def selectionModel(self) -> QItemSelectionModel:
        return self.selection

    def scrollToBottom(self) -> None:
        """The newest arrow into view: at the bottom, and sideways if it needs."""
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
        if self.diagram.row_count():
            self._scroll_sideways_to(self.diagram.row_count() - 1)

    # ---- geometry ------------------------------------------------------------------

    def diagram_layout(self) -> Layout:
        """Where the lanes go now. It asks the model for its lanes, which may look at
        rows: only painting calls it, never a model signal (a filter change sends
        thousands, and the rows are looked at once, when next painted)."""
        if self._layout is None:
            self._layout = self.painter.layout(self.viewport().width())
            hbar = self.horizontalScrollBar()
            hbar.setRange(0, max(0, self._layout.width - self.viewport().width()))
        return self._layout

    def row_at(self, y: int) -> int | None:
        """The row under viewport coordinate ``y``, or None below the last."""
        row = (y + self.verticalScrollBar().value()) // self.painter.row_height
        return row if 0 <= row < self.diagram.row_count() else None

    def row_y(self, row: int) -> int:
        """The top of row ``row`` in viewport coordinates (negative above the view)."""
        return row * self.painter.row_height - self.verticalScrollBar().value()

    def _following_changed(self, on: bool) -> None:
        self.follow_button.setVisible(not on)
        self._place_follow_button()

    def _place_follow_button(self) -> None:
        """At the viewport's bottom right corner, over the rows."""
        button, port = self.follow_button, self.viewport().geometry()
        button.adjustSize()
        button.move(port.right() - button.width() - 8, port.bottom() - button.height() - 8)
        button.raise_()

    def _place_header(self) -> None:
        height = self.painter.header_height
        if self.viewportMargins().top() != height:
            self.setViewportMargins(0, height, 0, 0)
        self.header.setGeometry(self.frameWidth(), self.frameWidth(),
                                self.viewport().width(), height)

    def _update_ranges(self) -> None:
        """The vertical range: rows × row height (no lanes needed)."""
        height = self.viewport().height()
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, self.diagram.row_count() * self.painter.row_height - height))
        bar.setSingleStep(self.painter.row_height)
        bar.setPageStep(height)
        hbar = self.horizontalScrollBar()
        hbar.setPageStep(self.viewport().width())
        hbar.setSingleStep(20)

    def _rows_changed(self) -> None:
        self._update_ranges()
        self.viewport().update()

    def _lanes_changed(self) -> None:
        self._layout = None  # laid out again when next painted
        self.header.update()
        self.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout = None
        self._place_header()
        self._update_ranges()
        self._place_follow_button()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self.painter = DiagramPainter(self.diagram, self.font(), self.palette())
            self._place_header()
            self._update_ranges()
            self._lanes_changed()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()
        if dx:
            self.header.update()

    # ---- painting ------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        self.diagram.lanes()  # catch up first: a new lane changes the layout
        lay = self.diagram_layout()
        p = QPainter(self.viewport())
        p.fillRect(self.viewport().rect(), self.palette().base())
        count = self.diagram.row_count()
        value = self.verticalScrollBar().value()
        first = value // lay.row_height
        last = min(count - 1, (value + self.viewport().height()) // lay.row_height)
        if last >= first:
            self.painter.paint_rows(p, lay, first, last, first * lay.row_height - value,
                                    self.marks(), self.horizontalScrollBar().value(),
                                    self.viewport().width())
        p.end()

    def marks(self) -> Marks:
        row = self.current_row()
        if row is None:
            return Marks()
        low, high = self.selected_range()
        return Marks(current=row, first=low, last=high, partner=self.diagram.partner_row(row))

    # ---- selection -----------------------------------------------------------------

    def current_row(self) -> int | None:
        rows = self.selection.selectedRows()
        return rows[0].row() if rows else None

    def selected_range(self) -> tuple[int, int]:
        """The rows between the range's anchor (Shift) and the current row, inclusive."""
        row = self.current_row()
        if row is None:
            return (0, -1)
        anchor = self._anchor.row() if self._anchor.isValid() else row
        return (min(anchor, row), max(anchor, row))

    def select_row(self, row: int, extend: bool = False) -> None:
        """Make ``row`` the current row (and the selection); ``extend`` keeps the
        range's anchor where it was, else the anchor moves to ``row``."""
        row = max(0, min(row, self.diagram.row_count() - 1))
        index = self.diagram.rows.index(row, 0)
        if not index.isValid():
            return
        if not extend or not self._anchor.isValid():
            self._anchor = QPersistentModelIndex(index)
        self._selecting = True
        try:
            self.selection.setCurrentIndex(index, Flag.ClearAndSelect | Flag.Rows)
        finally:
            self._selecting = False
        self.scroll_to_row(row)
        self.viewport().update()

    def scroll_to_row(self, row: int) -> None:
        """Scroll the least needed to show ``row`` whole."""
        height = self.painter.row_height
        bar = self.verticalScrollBar()
        top = row * height
        if top < bar.value():
            bar.setValue(top)
        elif top + height > bar.value() + self.viewport().height():
            bar.setValue(top + height - self.viewport().height())
        self._scroll_sideways_to(row)

    def _scroll_sideways_to(self, row: int) -> None:
        """If the lanes are wider than the view, scroll the least needed to show
        ``row``'s arrow from lane to lane (its left end first, if it is wider)."""
        arrow = self.diagram.arrow(row)
        lay, view = self.diagram_layout(), self.viewport().width()
        if arrow is None or lay.width <= view:
            return
        ends = sorted((lay.lane_x(arrow.start), lay.lane_x(arrow.end)))
        left, right = int(ends[0] - lay.spacing / 2), int(ends[1] + lay.spacing / 2)
        bar = self.horizontalScrollBar()
        if left < bar.value():
            bar.setValue(left)
        elif right > bar.value() + view:
            bar.setValue(min(left, right - view))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            if not self._selecting:  # chosen elsewhere (the inspector): a range of one
                self._anchor = QPersistentModelIndex(current)
            self.scroll_to_row(current.row())
        self.viewport().update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        row = self.row_at(int(event.position().y()))
        if event.button() != Qt.MouseButton.LeftButton or row is None:
            super().mousePressEvent(event)
            return
        self.select_row(row, extend=bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        self.clicked.emit(self.diagram.rows.index(row, 0))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        count = self.diagram.row_count()
        row = self.current_row()
        page = max(1, self.viewport().height() // self.painter.row_height - 1)
        key = Qt.Key(event.key())
        moves = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageUp: -page,
                 Qt.Key.Key_PageDown: page}
        if key in moves:
            target = (count - 1 if moves[key] < 0 else 0) if row is None else row + moves[key]
        elif key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            target = 0 if key == Qt.Key.Key_Home else count - 1
        else:
            super().keyPressEvent(event)
            return
        if count:
            self.select_row(target,
                            extend=bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
            self.clicked.emit(self.diagram.rows.index(max(0, min(target, count - 1)), 0))
        self.follower.user_moved()  # up and away stops following; End starts it again

    # ---- tooltip and menu --------------------------------------------------------------

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            row = self.row_at(event.pos().y())
            text = self.tooltip(row) if row is not None else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def tooltip(self, row: int) -> str:
        """What hovering row ``row`` tells: the message, its ends, the explanation."""
        arrow = self.diagram.arrow(row)
        if arrow is None:
            return ""
        return describe(arrow, self.diagram.lanes(), self.diagram.answering(arrow.message))

    def update_export_actions(self) -> None:
        """Enable what can be exported now (the range needs a selected row), and say
        truthfully what each takes ("Last 600 rows as PNG…" past a format's limit)."""
        has_range, count = self.current_row() is not None, self.diagram.row_count()
        label_actions(self.export_actions, self.export_rows,
                      lambda key: count > 0 and (has_range or not key.startswith("range")))

    def export_menu(self, parent: QWidget | None = None) -> QMenu:
        """A menu of the export actions (the context menu, the window's button)."""
        menu = QMenu(parent or self)
        menu.setToolTipsVisible(True)
        for action in self.export_actions.values():
            menu.addAction(action)
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self._menu is None:  # made once: a menu per right-click would pile up
            self._menu = self.export_menu(self)
        self.update_export_actions()
        self._menu.exec(event.globalPos())

    # ---- export --------------------------------------------------------------------

    def export_rows(self, key: str) -> tuple[int, int]:
        if key.startswith("range"):
            return self.selected_range()
        return (0, self.diagram.row_count() - 1)

    def choose_export(self, key: str) -> None:
        fmt = key.rpartition(".")[2]
        filter_ = "PNG images (*.png)" if fmt == "png" else "SVG drawings (*.svg)"
        path, _ = QFileDialog.getSaveFileName(self, "Export the sequence diagram",
                                              str(self.folder / f"sequence.{fmt}"), filter_)
        if path:
            self.export(path, *self.export_rows(key))

    def export(self, path: str, first: int, last: int) -> tuple[int, int] | None:
        """Write rows ``first``..``last`` to ``path`` (PNG or SVG by its suffix);
        says in ``exported`` how it went."""
        said, done = write_export(self.painter, path, first, last, self.viewport().width())
        if done is not None:
            self.folder = Path(path).parent
        self.exported.emit(said)
        return done
