"""The DNS lookup panel, a small dig: a name, a type, a server; the answer's header
(status, flags, id), its sections as a table, the time it took, and whether it had
to ask again over TCP."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from lab.clients.dns import TYPES, DnsResult, Row
from lab.model import ClientState, NodeInfo
from ui import theme
from ui.bridge import EngineBridge
from ui.engine_thread import spawn
from ui.models.rows import Index, RowTableModel
from ui.panels.base import NodePanel, PanelContext, make_table
from ui.panels.mail_common import ServerCombo

DEFAULT_NAME = "www.lab.test"
#: What an rcode and a section mean, for their colour (theme.colour); any other
#: rcode is "bad".
RCODE_MEANINGS = {"NOERROR": "good", "NXDOMAIN": "warn"}
SECTION_MEANINGS = {"answer": "good", "authority": "info", "additional": "accent"}


class SectionsModel(RowTableModel[Row]):
    """The records of an answer, section by section, as dig prints them."""

    COLUMNS = ("Section", "Name", "TTL", "Type", "Value")

    def set_rows(self, rows: tuple[Row, ...]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.section.upper(), row.name, row.ttl, row.type, row.value)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.section} section: {row.name} {row.ttl} IN {row.type} {row.value}"
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            return theme.qcolour(SECTION_MEANINGS.get(row.section, "faint"))
        return None


def header_html(result: DnsResult) -> str:
    """``NOERROR · id 6699 · flags qr aa rd`` and what it cost, like dig's header."""
    rcode = f"<b>{html.escape(result.rcode)}</b>"
    how = "TCP" if result.tcp else "UDP"
    return (theme.span(rcode, RCODE_MEANINGS.get(result.rcode, "bad")) + " &nbsp;"
            + theme.span(f"id {result.id} · flags <b>{html.escape(' '.join(result.flags))}"
                         f"</b><br>{result.ms:.1f} ms over {how} from "
                         f"{html.escape(result.server)} · {result.size} bytes", "faint"))


class DnsClientPanel(NodePanel):
    """Ask a DNS server one question, the way dig does, and read the whole answer.
    It shows only the client's state (lab/clients/dns.py: the DnsResult is its view)."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self._result_shown: DnsResult | None = None
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Remove this DNS lookup")
        self.name_edit = QLineEdit(DEFAULT_NAME, self)
        self.name_edit.setPlaceholderText("www.lab.test")
        self.name_edit.setToolTip("The name to look up; press Enter to ask")
        self.name_edit.returnPressed.connect(self._query_clicked)
        self.type_combo = QComboBox(self)
        self.type_combo.addItems(TYPES)
        self.type_combo.setToolTip("The record type to ask for: A is an IPv4 address, "
                                   "AAAA IPv6, MX the mail server, TXT text…")
        self.query_button = QPushButton("Query", self)
        self.query_button.setToolTip("Ask the server (Enter)")
        self.query_button.clicked.connect(self._query_clicked)
        self.server_combo = ServerCombo("dns", context.bridge, self)
        self.server_combo.setToolTip("A running lab DNS server, or type any host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
        self.server_edit: QLineEdit = edit
        edit.setPlaceholderText("127.0.0.1:5300")
        edit.returnPressed.connect(self._query_clicked)
        self.tcp_check = QCheckBox("TCP", self)
        self.tcp_check.setToolTip("Ask over TCP from the start (dig +tcp); otherwise UDP, "
                                  "and TCP again only when the answer comes back truncated")
        grid = QGridLayout()
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.name_edit, 0, 0)
        grid.addWidget(self.type_combo, 0, 1)
        grid.addWidget(self.query_button, 0, 2)
        grid.addWidget(self.server_combo, 1, 0, 1, 2)
        grid.addWidget(self.tcp_check, 1, 2)
        grid.setColumnStretch(0, 1)
        self.body.addLayout(grid)
        self.header_label = QLabel("No answer yet: type a name and press Enter.", self)
        theme.set_tone(self.header_label, "faint")
        self.header_label.setWordWrap(True)
        self.header_label.setTextFormat(Qt.TextFormat.RichText)
        self.header_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.on_look_change(self.header_label, self._show_header)
        self.retry_label = QLabel(self)
        self.retry_label.setWordWrap(True)
        theme.set_tone(self.retry_label, "warn")
        self.retry_label.hide()
        self.model = SectionsModel(self)
        self.table = make_table(self, self.model)
        header = self.table.horizontalHeader()
        fit = QHeaderView.ResizeMode.ResizeToContents
        for column in range(4):
            header.setSectionResizeMode(column, fit)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(110)
        self.table.setMaximumHeight(200)
        self.body.addWidget(self.header_label)
        self.body.addWidget(self.retry_label)
        self.body.addWidget(self.table)
        self.finish_layout()

    @property
    def last_result(self) -> DnsResult | None:
        """The answer the state shows (None before the first lookup)."""
        view = getattr(self.state, "view", None)
        return view if isinstance(view, DnsResult) else None

    def describe(self, info: NodeInfo) -> str:
        busy = getattr(self.state, "busy", "")
        if busy:
            return f"{busy}…"
        result = self.last_result
        if result is None:
            return "ready: type a name and press Enter"
        if not result.ok:
            return f"last lookup failed ({result.name} {result.type})"
        return f"last: {result.name} {result.type} → {result.rcode}"

    def show_state(self, state: ClientState) -> None:
        self._show_settings(state)
        busy = bool(state.busy)
        self.query_button.setEnabled(not busy)
        self.query_button.setText("Asking…" if busy else "Query")
        result = self.last_result
        if result is not None and result is not self._result_shown:
            self._result_shown = result
            self.model.set_rows(result.rows)
            self.retry_label.setVisible(result.retried_tcp)
            self.retry_label.setText("Retried over TCP: the UDP answer came back truncated "
                                     "(TC flag set), so the whole answer was asked for "
                                     "over TCP.")
            self._show_header()


    def _show_settings(self, state: ClientState) -> None:
        name = self.setting_changed(state, "name")
        if name and not (self.name_edit.hasFocus() and self.name_edit.isModified()):
            self.name_edit.setText(name)
        rdtype = self.setting_changed(state, "type")
        if rdtype:
            self.type_combo.setCurrentText(rdtype.upper())
        tcp = self.setting_changed(state, "tcp")
        if tcp is not None:
            self.tcp_check.setChecked(tcp == "true")
        server = self.setting_changed(state, "server")
        if server and not self.server_edit.hasFocus():
            self.server_combo.setEditText(server)

    def _query_clicked(self) -> None:
        if not getattr(self.state, "busy", ""):
            spawn(self.query())

    async def added(self) -> None:
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    async def query(self) -> None:
        """Ask what the form says; the answer (or what went wrong) comes as the state."""
        await self.act("query", self.name_edit.text(), self.type_combo.currentText(),
                       server=self.server_combo.address(),
                       tcp="true" if self.tcp_check.isChecked() else "false")

    def _show_header(self) -> None:
        """The last answer's header, coloured for the look in use."""
        result = self.last_result
        if result is None:
            return
        if result.ok:
            theme.set_tone(self.header_label, None)
            self.header_label.setText(header_html(result))
        else:
            theme.set_tone(self.header_label, "faint")
            self.header_label.setText(f"No answer for {html.escape(result.name)} "
                                      f"{html.escape(result.type)}.")

    def header_text(self) -> str:
        """The header line as plain text (tests read it)."""
        result = self.last_result
        if result is None or not result.ok:
            return ""
        return (f"{result.rcode} id {result.id} flags {' '.join(result.flags)} "
                f"{'TCP' if result.tcp else 'UDP'} {result.ms:.1f} ms")


class LookUpFirst(QWidget):
    """The HTTP composer's "look the host up first" option: a checkbox and the DNS
    server to ask (a running lab DNS server's address by default)."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = QCheckBox("Look up the host first", self)  # short: the column is narrow
        self.check.setToolTip("Ask the lab's DNS server for the URL's host name (an A "
                              "record), then connect to the address it gives: the inspector "
                              "shows the lookup, then the connection. Host: keeps the name.")
        self.combo = ServerCombo("dns", bridge, self)
        self.combo.setToolTip("The DNS server to ask: a running lab DNS server, or type any "
                              "host:port")
        self.combo.setEnabled(False)
        self.check.toggled.connect(self.combo.setEnabled)
        label = QLabel("DNS server", self)
        theme.set_tone(label, "faint")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.check, 0, 0, 1, 2, Qt.AlignmentFlag.AlignLeft)  # as wide as its words
        grid.addWidget(label, 1, 0)
        grid.addWidget(self.combo, 1, 1)
        grid.setColumnMinimumWidth(0, 20)
        grid.setColumnStretch(1, 1)

    def server(self) -> str | None:
        """The DNS server to ask first, or None when the box is not ticked."""
        return (self.combo.address() or None) if self.check.isChecked() else None
