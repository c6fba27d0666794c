"""The inspector: a filterable table of every message, and the selected one in detail."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelection, QModelIndex, QPoint, Qt
from PySide6.QtGui import QAction, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lab.model import Message, Sender
from ui import theme
from ui.bridge import EngineBridge
from ui.models.messages import (
    COL_BYTES,
    COL_CONN,
    COL_DELTA,
    COL_ID,
    COL_PROTO,
    COL_ROUTE,
    COL_SUMMARY,
    COL_TIME,
    MESSAGE_ROLE,
    MessageFilterProxy,
    MessageTableModel,
    format_time,
)
from ui.views.explain import ExplainView
from ui.views.follow import RowFollower
from ui.views.hexview import HexView

FILTER_HINT = "Filter: text in summary, connection, address…"

#: Each column is as wide as its sample (or its title, if wider).
WIDTHS = {COL_ID: "000000", COL_TIME: "00:00:00.000", COL_DELTA: "+000.0 ms", COL_CONN: "c000",
          COL_ROUTE: "127.0.0.1:65535 → 127.0.0.1:65535", COL_PROTO: "tcp-echo",
          COL_BYTES: "000000"}


class InspectorView(QWidget):
    """Filter box, message table (over a MessageFilterProxy) and a detail pane."""

    def __init__(self, model: MessageTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        #: What the lab calls each end of a message (lab/naming.py via the window):
        #: the fields show "name (address)"; None shows addresses only.
        self.namer: Callable[[Message, Sender], str] | None = None
        self.proxy = MessageFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText(FILTER_HINT)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only messages containing this text (Ctrl+F)")
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.count_label = QLabel(self)
        #: "sampling 1 in K": shown while a load test sends too fast to show it all.
        self.sampling_label = QLabel(self)
        theme.set_tone(self.sampling_label, "warn")
        self.sampling_label.setToolTip("A load test sends too many messages a second to "
                                       "show them all: the list shows a sample of its "
                                       "messages and all the others; the counts, the "
                                       "capture and exports keep every message")
        self.sampling_label.hide()
        self.sampling = 1
        self.skipped = 0  # messages the bridge counted but did not pass on (sampling)
        #: The table's context menu (the window adds replay; a saved capture has none).
        self.context_actions: list[QAction] = []
        self.table = self._make_table()
        self.details = self._make_details()
        self.find_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.find_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.find_shortcut.activated.connect(self.focus_filter)
        self._layout()
        model.rowsInserted.connect(self._update_count)
        model.modelReset.connect(self._update_count)
        self.proxy.rowsInserted.connect(self._update_count)
        self._update_count()

    # ---- building --------------------------------------------------------------

    def _make_table(self) -> QTableView:
        table = QTableView(self)
        table.setModel(self.proxy)
        self.follower = RowFollower(table, keep_selected=True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setWordWrap(False)
        table.setAlternatingRowColors(True)
        table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = table.verticalHeader()
        rows.setVisible(False)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(QFontMetrics(table.font()).height() + 6)
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        metrics = QFontMetrics(table.font())
        for column, sample in WIDTHS.items():
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal))
            widest = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(title))
            table.setColumnWidth(column, widest + 18)
        header.setSectionResizeMode(COL_SUMMARY, QHeaderView.ResizeMode.Stretch)
        table.selectionModel().selectionChanged.connect(self._selection_changed)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._show_context_menu)
        return table

    def _make_details(self) -> QTabWidget:
        tabs = QTabWidget(self)
        self.fields = QTableWidget(0, 2, self)
        self.fields.setHorizontalHeaderLabels(["Field", "Value"])
        self.fields.verticalHeader().setVisible(False)
        self.fields.verticalHeader().setDefaultSectionSize(
            QFontMetrics(self.fields.font()).height() + 6)
        self.fields.horizontalHeader().setStretchLastSection(True)
        self.fields.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fields.setWordWrap(False)
        self.hex = HexView(self)
        self.explain = ExplainView(self)
        tabs.addTab(self.fields, "Fields")
        tabs.addTab(self.explain, "Explain")
        tabs.addTab(self.hex, "Raw")
        return tabs

    def _layout(self) -> None:
        self.heading = QWidget(self)  # the title and the filter (presentation hides it)
        top = QHBoxLayout(self.heading)
        top.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Inspector</b>", self)
        top.addWidget(title)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.count_label)
        top.addWidget(self.sampling_label)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([700, 300])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.heading)
        layout.addWidget(self.splitter, 1)

    # ---- behaviour -------------------------------------------------------------

    def context_menu(self, pos: QPoint) -> QMenu | None:
        """Select the row at ``pos`` (viewport coordinates) and return the menu for it,
        or None when there are no context actions."""
        index = self.table.indexAt(pos)
        if index.isValid():
            self.table.selectRow(index.row())
        if not self.context_actions:
            return None
        menu = QMenu(self.table)
        menu.addActions(self.context_actions)
        return menu

    def _show_context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu(pos)
        if menu is not None:
            menu.exec(self.table.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._update_count()
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.table.scrollTo(rows[0])
        else:
            self.table.scrollToBottom()

    def _update_count(self, *_: object) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        noun = "message" if total == 1 else "messages"
        text = f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"
        if self.skipped:
            captured = total + self.skipped  # exact: every message counted, shown or not
            text = f"{shown} shown of {captured} messages"
        self.count_label.setText(text)

    def follow(self, bridge: EngineBridge) -> None:
        """Show the bridge's sampling ("sampling 1 in K") and its exact message count,
        and start empty when the capture is cleared (``clear``)."""

        def update(*_: object) -> None:
            self.set_sampling(bridge.sampling, bridge.sampled_out)

        def cleared() -> None:
            self.clear()
            update()

        bridge.sampling_changed.connect(update)
        bridge.messages_added.connect(update)
        bridge.cleared.connect(cleared)

    def clear(self) -> None:
        """The capture was emptied: no rows (the wire's diagram over them follows), no
        filter, no selection, empty details."""
        self.table.clearSelection()
        self.model.clear()
        self.filter_edit.clear()
        self._show_nothing()

    def set_sampling(self, step: int, skipped: int) -> None:
        self.sampling = step
        self.skipped = skipped
        self.sampling_label.setText(f"sampling 1 in {step}")
        self.sampling_label.setVisible(step > 1)
        self._update_count()

    def selected_message(self) -> Message | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        message = rows[0].data(MESSAGE_ROLE)
        return message if isinstance(message, Message) else None

    def select_message(self, message_id: int) -> bool:
        """Select the row of message ``message_id`` if the filter shows it."""
        source_row = self.model.row_of(message_id)
        if source_row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        message = rows[0].data(MESSAGE_ROLE) if rows else None
        if not isinstance(message, Message):
            self._show_nothing()
            return
        partner = self.model.partner(message.id)
        partner_row = None if partner is None else self.model.row_of(partner)
        self.model.set_highlighted(partner_row)
        answered = None if partner_row is None else self.model.message(partner_row)
        self.explain.show_message(message, answered if message.sender is Sender.SERVER else None)
        delta = rows[0].siblingAtColumn(COL_DELTA).data()
        self._show_fields(message, str(delta or ""))
        self.hex.show_bytes(message.raw, message.size)

    def _show_nothing(self) -> None:
        self.model.set_highlighted(None)
        self.fields.setRowCount(0)
        self.hex.clear_bytes()
        self.explain.show_message(None)

    def _show_fields(self, message: Message, delta: str) -> None:
        flags = [n for n in ("malformed", "truncated", "injected", "held") if getattr(message, n)]
        rows: list[tuple[str, object]] = [
            ("message", f"#{message.id}"),
            ("time", format_time(message.time)),
            ("Δt", delta or "first on this connection"),
            ("connection", self.model.connection_label(message)),
            ("protocol", message.protocol),
            ("sender", message.sender.value),
            ("from", self._end(message, message.sender)),
            ("to", self._end(message, Sender.SERVER if message.sender is Sender.CLIENT
                             else Sender.CLIENT)),
            ("size", f"{message.size} bytes"),
            ("flags", ", ".join(flags) or "none"),
            *self._pairing(message),
            *message.fields,
        ]
        self.fields.setRowCount(len(rows))
        for row, (name, value) in enumerate(rows):
            self.fields.setItem(row, 0, QTableWidgetItem(name))
            self.fields.setItem(row, 1, QTableWidgetItem("" if value is None else str(value)))
        self.fields.resizeColumnToContents(0)

    def _end(self, message: Message, side: Sender) -> str:
        """One end of ``message``: its address, after the lab's name for it if any."""
        address = message.client if side is Sender.CLIENT else message.server
        name = self.namer(message, side) if self.namer is not None else address
        return address if name in (address, address.rpartition(":")[0]) else (
            f"{name} ({address})")

    def _pairing(self, message: Message) -> list[tuple[str, object]]:
        partner = self.model.partner(message.id)
        if partner is None:
            return []
        if message.sender is Sender.SERVER:
            return [("answers", f"#{partner} (highlighted)")]
        return [("answered by", f"#{partner} (highlighted)")]


def first_visible_index(view: QTableView) -> QModelIndex:
    """The index at the top-left of a view (tests use it to see nothing jumped)."""
    return view.indexAt(view.viewport().rect().topLeft())
