"""The DNS server panel: what the echo server panel has, plus the zone as a live table
where records are added and removed (the server answers from it at once), and, while
the server is shared, a line saying what protects it (lab/servers/dns_guard.py)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from lab.engine import EngineError
from lab.lan import is_shared
from lab.model import NodeInfo, parse_address
from lab.servers.dns_guard import RATE, SLIP
from lab.servers.dns_live import ZoneView
from lab.servers.dns_zone import DEFAULT_TTL, EDITABLE, HINTS, MAX_TTL, Record
from ui import theme
from ui.engine_thread import spawn
from ui.models.rows import Index, RowTableModel
from ui.panels.base import make_table
from ui.panels.echo_server import EchoServerPanel


class ZoneModel(RowTableModel[Record]):
    """The zone's records, SOA first, as the server answers from them."""

    COLUMNS = ("Name", "Type", "Value", "TTL")

    def set_rows(self, rows: list[Record]) -> None:
        if rows == self._rows:
            return
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


#: The line under the zone while the server is shared, and its tooltip.
GUARD_TEXT = ("Shared: answers to other machines are rate limited, ANY gets one record, "
              "and big answers go over TCP or with a DNS cookie.")
GUARD_TIP = (
    "So no one can use this server to flood a classmate with answers to forged queries "
    "(DNS reflection):\n"
    f"• Response rate limiting (as BIND, Knot and NSD do): at most {RATE:g} of the same "
    f"answer a second to one address; over that, one in {SLIP} is an empty TC "
    "reply (ask again over TCP) and the rest are dropped, each noted in the capture.\n"
    "• ANY over UDP gets one HINFO \"RFC8482\" record (RFC 8482 §4.2); over TCP every "
    "record.\n"
    "• No UDP answer larger than its query to an address that has not shown it is real: "
    "it gets an empty TC reply instead. An address is real after a TCP query (for 10 "
    "minutes), or with a valid server cookie (RFC 7873, RFC 9018): dig +cookie, then "
    "dig +cookie=… with the cookie it printed. A wrong cookie gets BADCOOKIE.\n"
    "This machine is answered as before.")


class DnsServerPanel(EchoServerPanel):
    """A DNS server: port, start/stop, and its zone (from the server's state), edited
    with server commands."""

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
        self.guard_label = QLabel(GUARD_TEXT, self)
        self.guard_label.setWordWrap(True)
        self.guard_label.setToolTip(GUARD_TIP)
        theme.set_tone(self.guard_label, "faint")
        self.guard_label.hide()
        self.body.addWidget(self.zone_label)
        self.body.addWidget(self.guard_label)
        self.body.addWidget(self.table)
        self._add_editor()
        super().finish_layout()

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        try:
            shared = is_shared(parse_address(info.address)[0])
        except ValueError:
            shared = False
        self.guard_label.setVisible(shared)

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

    def show_view(self, view: Any) -> None:
        """The zone now (none while the server is stopped); the selection stays on
        the same record when it is still there."""
        chosen = self.selected()
        self.model.set_rows(list(view.records) if isinstance(view, ZoneView) else [])
        rows = [self.model.row(n) for n in range(self.model.rowCount())]
        if chosen is not None and chosen in rows:
            self.table.selectRow(rows.index(chosen))
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
        if await self._edit("add", name, rdtype, value, str(ttl)):
            self.value_edit.clear()
            return True
        return False

    async def delete(self, record: Record) -> bool:
        """Remove a record from the zone (the SOA cannot be)."""
        return await self._edit("remove", record.name, record.type, record.value)

    async def _edit(self, verb: str, *args: str) -> bool:
        """Run a zone command on the server; the zone shows from its next state."""
        self.show_error("")
        try:
            outcome = await self.context.commands.server_do(self.node_id, verb, *args)
        except EngineError as exc:
            self.show_error(str(exc))
            return False
        if not outcome.ok:
            self.show_error(outcome.shown)
        return outcome.ok
