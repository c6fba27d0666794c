"""The DNS server panel: what the echo server panel has, plus the zone as a live table
where records are added and removed (the server answers from it at once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from lab.engine import Engine, EngineError
from lab.model import NodeInfo
from lab.servers.dns import DnsBackend
from lab.servers.dns_zone import DEFAULT_TTL, EDITABLE, HINTS, MAX_TTL, Record, ZoneError
from ui import theme
from ui.engine_thread import spawn
from ui.models.rows import Index, RowTableModel
from ui.panels.base import PanelContext, make_table
from ui.panels.echo_server import EchoServerPanel
from ui.panels.watching import WatchesBackend

ZoneWatch = tuple[list[Record], Callable[[], None]]
STOPPED = "the DNS server is stopped: start it to edit its zone"


def _backend(engine: Engine, node_id: str) -> DnsBackend:
    backend = engine.server_backend(node_id)
    if not isinstance(backend, DnsBackend):
        raise EngineError(STOPPED)
    return backend


async def watch_zone(engine: Engine, node_id: str,
                     listener: Callable[[list[Record]], None]) -> ZoneWatch | None:
    """Runs on the engine's loop: the zone's records now, and the function that stops
    ``listener`` (called with the records after each change)."""
    try:
        backend = _backend(engine, node_id)
    except EngineError:
        return None
    return backend.records(), backend.watch(listener)


async def add_record(engine: Engine, node_id: str, name: str, rdtype: str, value: str,
                     ttl: int) -> list[Record]:
    """Runs on the engine's loop: add a record (ZoneError says why not); the records."""
    backend = _backend(engine, node_id)
    backend.add_record(name, rdtype, value, ttl)
    return backend.records()


async def remove_record(engine: Engine, node_id: str, record: Record) -> list[Record]:
    backend = _backend(engine, node_id)
    backend.remove_record(record.name, record.type, record.value)
    return backend.records()


class ZoneModel(RowTableModel[Record]):
    """The zone's records, SOA first, as the server answers from them."""

    COLUMNS = ("Name", "Type", "Value", "TTL")

    def set_rows(self, rows: list[Record]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def names(self) -> list[str]:
        return [r.name for r in self._rows]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        record = self.row(index.row()) if index.isValid() else None
        if record is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return (record.name, record.type, record.value, record.ttl)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            if record.type == "SOA":
                return ("The zone's own SOA record: its serial (the third number) counts "
                        "the edits; NXDOMAIN answers carry it")
            return f"{record.name} {record.ttl} IN {record.type} {record.value}"
        if role == Qt.ItemDataRole.ForegroundRole and record.type == "SOA":
            return theme.qcolour("faint")
        return None


class DnsServerPanel(WatchesBackend, EchoServerPanel):
    """A DNS server: port, start/stop, and its zone, edited live.

    Signals:
        zone_changed(object): the records after a change, emitted on the engine
            thread; queued to this panel's (Qt) thread, where the table is updated.
    """

    zone_changed = Signal(object)

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self._init_watch()
        super().__init__(info, context, parent)
        self.zone_changed.connect(self.model_rows, Qt.ConnectionType.QueuedConnection)

    def finish_layout(self) -> None:
        self.zone_label = QLabel("Zone <b>lab.test</b>: answered over UDP, and over TCP on "
                                 "the same port when an answer is too big.", self)
        self.zone_label.setWordWrap(True)
        theme.set_tone(self.zone_label, "faint")
        self.model = ZoneModel(self)
        self.table = make_table(self, self.model, single=True)
        self.table.setToolTip("The records this server answers from; a change counts at once")
        header = self.table.horizontalHeader()
        fit = QHeaderView.ResizeMode.ResizeToContents
        for column, mode in enumerate((fit, fit, QHeaderView.ResizeMode.Stretch, fit)):
            header.setSectionResizeMode(column, mode)
        self.table.setMinimumHeight(150)
        self.table.setMaximumHeight(240)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.body.addWidget(self.zone_label)
        self.body.addWidget(self.table)
        self._add_editor()
        super().finish_layout()

    def _add_editor(self) -> None:
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("name, e.g. shop")
        self.name_edit.setToolTip("The record's name: shop means shop.lab.test; @ is lab.test "
                                  "itself")
        self.type_combo = QComboBox(self)
        self.type_combo.addItems(EDITABLE)
        self.type_combo.setToolTip("A: IPv4 address · AAAA: IPv6 address · CNAME: another "
                                   "name for · MX: mail server · TXT: text · NS: name server")
        self.type_combo.currentTextChanged.connect(self._type_changed)
        self.value_edit = QLineEdit(self)
        self.value_edit.returnPressed.connect(self._add_clicked)
        self.name_edit.returnPressed.connect(self._add_clicked)
        self.ttl_spin = QSpinBox(self)
        self.ttl_spin.setRange(0, MAX_TTL)
        self.ttl_spin.setValue(DEFAULT_TTL)
        self.ttl_spin.setSuffix(" s")
        self.ttl_spin.setToolTip("Time to live: how long others may keep the answer")
        self.add_button = QPushButton("Add", self)
        self.add_button.setToolTip("Add this record to the zone (Enter)")
        self.add_button.clicked.connect(self._add_clicked)
        self.remove_record_button = QPushButton("Remove", self)
        self.remove_record_button.setToolTip("Remove the selected record from the zone")
        self.remove_record_button.setEnabled(False)
        self.remove_record_button.clicked.connect(self._remove_clicked)
        grid = QGridLayout()
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.name_edit, 0, 0)
        grid.addWidget(self.type_combo, 0, 1)
        grid.addWidget(self.ttl_spin, 0, 2)
        grid.addWidget(self.value_edit, 1, 0, 1, 2)
        grid.addWidget(self.add_button, 1, 2)
        hint = QLabel("Select a record above to remove it.", self)
        hint.setWordWrap(True)
        theme.set_tone(hint, "faint")
        grid.addWidget(hint, 2, 0, 1, 2)
        grid.addWidget(self.remove_record_button, 2, 2)
        grid.setColumnStretch(0, 1)
        self.body.addLayout(grid)
        self._type_changed(self.type_combo.currentText())

    def _type_changed(self, rdtype: str) -> None:
        hint = HINTS.get(rdtype, "")
        self.value_edit.setPlaceholderText(hint)
        self.value_edit.setToolTip(f"The {rdtype} record's value: {hint}")

    def _selection_changed(self, *_: object) -> None:
        record = self.selected()
        self.remove_record_button.setEnabled(record is not None and record.type != "SOA")

    def selected(self) -> Record | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def model_rows(self, rows: object) -> None:
        if isinstance(rows, list) and self._stop_watch is not None:
            self.model.set_rows(rows)
            self._selection_changed()

    # ---- editing -------------------------------------------------------------------

    def _add_clicked(self) -> None:
        spawn(self.add(self.name_edit.text(), self.type_combo.currentText(),
                       self.value_edit.text(), self.ttl_spin.value()))

    def _remove_clicked(self) -> None:
        record = self.selected()
        if record is not None:
            spawn(self.delete(record))

    async def add(self, name: str, rdtype: str, value: str, ttl: int = DEFAULT_TTL) -> bool:
        """Add a record; what is wrong with it shows in the panel, in red."""
        lab = self.context.lab
        self.show_error("")
        try:
            rows = await lab.call(add_record, lab.engine, self.node_id, name, rdtype, value,
                                  ttl)
        except (ZoneError, EngineError) as exc:
            self.show_error(str(exc))
            return False
        self.model.set_rows(rows)
        self.value_edit.clear()
        return True

    async def delete(self, record: Record) -> bool:
        """Remove a record from the zone (the SOA cannot be)."""
        lab = self.context.lab
        self.show_error("")
        try:
            rows = await lab.call(remove_record, lab.engine, self.node_id, record)
        except (ZoneError, EngineError) as exc:
            self.show_error(str(exc))
            return False
        self.model.set_rows(rows)
        self._selection_changed()
        return True

    # ---- following the zone --------------------------------------------------------

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        self._follow_state()

    async def _watch(self) -> None:
        lab = self.context.lab
        watched = await lab.call(watch_zone, lab.engine, self.node_id, self.zone_changed.emit)
        if watched is not None:
            rows, self._stop_watch = watched
            self.model.set_rows(rows)

    async def start(self) -> None:
        await super().start()
        await self.sync_watch(again=True)  # a restart makes a new backend

    async def stop(self) -> None:
        async with self._watch_lock:
            await self._unwatch()
        await super().stop()

    async def remove(self) -> None:
        async with self._watch_lock:
            await self._unwatch()
        await super().remove()
