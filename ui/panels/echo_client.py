"""The panel of an echo client: pick a server and a transport, connect, send text or
hex, see what came back. It shows only the client's state as the engine publishes
it (lab/clients/echo.py: the settings in the fields, the EchoView's log below)."""

from __future__ import annotations

import functools
import html

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from lab.clients.echo import REPLY_WAIT, EchoView, LogLine
from lab.model import ClientState, NodeInfo, NodeState, Transport
from lab.servers import server_kinds
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import STATE_TONES, NodePanel, PanelContext
from ui.panels.log import RichLog
from ui.views.hexview import fixed_font

SHOWN_LIMIT = 200
LOG_LINES = 500
TRANSPORTS = (("TCP", Transport.TCP.value), ("UDP", Transport.UDP.value))


_ESCAPES = (("\\", "\\\\"), ("\r", "\\r"), ("\n", "\\n"), ("\t", "\\t"))


def show_bytes(data: bytes, limit: int = SHOWN_LIMIT) -> str:
    """``"text"`` when the bytes are printable UTF-8, else hex pairs; cut at ``limit``."""
    more = "…" if len(data) > limit else ""
    head = data[:limit]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        for plain, shown in _ESCAPES:
            text = text.replace(plain, shown)
        return f'"{text}"{more}'
    return head.hex(" ") + more


def target_of(text: str) -> str:
    """The ``host:port`` in a combo entry such as ``127.0.0.1:7007 — TCP echo server #1``."""
    words = text.split()
    return words[0] if words else ""


def line_html(line: LogLine) -> str:
    """One log line in the colour of who sent it (a note faint)."""
    if line.what in ("sent", "came back"):
        arrow, meaning = ("→ sent", "client") if line.what == "sent" else ("← reply", "server")
        size = f"({len(line.data)} byte{'s' if len(line.data) != 1 else ''})"
        return theme.span(f"{arrow} {html.escape(show_bytes(line.data))} {size}", meaning)
    if line.what == "nothing came back":
        return theme.span(f"(no reply within {REPLY_WAIT:g} s)", "faint")
    return theme.span(html.escape(line.text), "faint")


class EchoClientPanel(NodePanel):
    """One echo client, like netcat: connect to a server, send, read what comes back."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self._logged = 0  # the log lines shown (EchoView.total when they were)
        self._targets: list[tuple[str, str, str]] | None = None
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Disconnect and remove this client")
        self.target_combo = QComboBox(self)
        self.target_combo.setEditable(True)
        self.target_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        edit = self.target_combo.lineEdit()
        assert edit is not None  # an editable combo has one
        self.target_edit: QLineEdit = edit
        edit.setPlaceholderText("host:port")
        self.target_combo.setToolTip("A running lab server, or type any host:port")
        self.target_combo.setSizePolicy(QSizePolicy.Policy.Expanding,
                                        QSizePolicy.Policy.Fixed)
        self.target_combo.setMinimumContentsLength(8)
        self.target_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target_combo.activated.connect(self._show_start_of_target)
        self.target_combo.currentIndexChanged.connect(self._server_picked)
        self.transport_combo = QComboBox(self)
        for label, value in TRANSPORTS:
            self.transport_combo.addItem(label, value)
        self.transport_combo.setToolTip("TCP: one connection, a stream of bytes. UDP: "
                                        "single datagrams, no connection")
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.clicked.connect(self._connect_clicked)
        self.transport_combo.currentIndexChanged.connect(
            lambda _: self.show_node(self.info))  # Connect, or Open socket for UDP
        self.input = QLineEdit(self)
        self.input.setPlaceholderText("text to send (Enter sends)")
        self.input.returnPressed.connect(self._send_clicked)
        self.hex_box = QCheckBox("Hex", self)
        self.hex_box.setToolTip("Send hex digits as bytes, e.g. 48 65 6c 6c 6f")
        self.send_button = QPushButton("Send", self)
        self.send_button.clicked.connect(self._send_clicked)
        self.log = RichLog(LOG_LINES, self)
        self.log.setFont(fixed_font())
        self.log.setPlaceholderText("What you send and what comes back shows here.")
        self.log.setMinimumHeight(90)
        self._layout_rows()
        context.bridge.node_changed.connect(self._server_list_changed)
        context.bridge.node_removed.connect(self._server_list_changed)
        self.refresh_targets()
        self.finish_layout()

    def _layout_rows(self) -> None:
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.addWidget(QLabel("Server", self), 0, 0)
        server_row = QHBoxLayout()
        server_row.addWidget(self.target_combo, 1)
        server_row.addWidget(self.transport_combo)
        grid.addLayout(server_row, 0, 1)
        grid.addWidget(self.connect_button, 0, 2)
        send_row = QHBoxLayout()
        send_row.addWidget(self.input, 1)
        send_row.addWidget(self.hex_box)
        send_row.addWidget(self.send_button)
        grid.addWidget(QLabel("Send", self), 1, 0)
        grid.addLayout(send_row, 1, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        self.body.addWidget(self.log, 1)

    # ---- state -----------------------------------------------------------------

    @property
    def view(self) -> EchoView:
        view = getattr(self.state, "view", None)
        return view if isinstance(view, EchoView) else EchoView()

    @property
    def connected(self) -> bool:
        return self.view.connected

    def describe(self, info: NodeInfo) -> str:
        view = self.view
        busy = getattr(self.state, "busy", "")
        if busy:
            return f"{busy}…"
        if view.connected and view.transport == Transport.UDP.value:
            return f"ready to send (UDP: no connection) → {view.remote}"
        if view.connected:
            return f"connected ({view.transport} → {view.remote})"
        return "not connected"

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        view = self.view
        udp = (view.transport if view.connected
               else self.transport_combo.currentData()) == Transport.UDP.value
        if view.connected:
            theme.set_tone(self.dot, STATE_TONES[NodeState.RUNNING])
            self.dot.setToolTip("UDP socket open (no connection)" if udp else "connected")
        self.state_label.setToolTip(f"from {view.local}" if view.connected else "")
        if udp:  # UDP has no connection: the button opens and closes a socket
            self.connect_button.setText("Close socket" if view.connected else "Open socket")
            self.connect_button.setToolTip(
                "Close this client's UDP socket" if view.connected else
                "Open a UDP socket aimed at the server chosen on the left (UDP sets up "
                "no connection: each send is one datagram)")
            return
        self.connect_button.setText("Disconnect" if view.connected else "Connect")
        self.connect_button.setToolTip("Close the connection" if view.connected
                                       else "Connect to the server chosen on the left")

    def show_state(self, state: ClientState) -> None:
        self._show_settings(state)
        busy = bool(state.busy)
        self.send_button.setEnabled(not busy)
        self.connect_button.setEnabled(not busy or self.connected)  # Disconnect ends a wait
        self._show_log(self.view)
        self.show_node(self.info)


    def _show_settings(self, state: ClientState) -> None:
        server = self.setting_changed(state, "server")
        if server and not self.target_edit.hasFocus():
            self.show_server(server)
        transport = self.setting_changed(state, "transport")
        if transport:
            index = self.transport_combo.findData(transport)
            if index >= 0:
                self.transport_combo.setCurrentIndex(index)
        as_hex = self.setting_changed(state, "hex")
        if as_hex is not None:
            self.hex_box.setChecked(as_hex == "true")

    def show_server(self, address: str) -> None:
        """Show ``address`` in the server box: the lab server's entry if it is one."""
        for index in range(self.target_combo.count()):
            if target_of(self.target_combo.itemText(index)) == address:
                self.target_combo.blockSignals(True)  # the transport is the setting's
                self.target_combo.setCurrentIndex(index)
                self.target_combo.blockSignals(False)
                break
        else:
            self.target_combo.setEditText(address)
        self._show_start_of_target()

    def _show_log(self, view: EchoView) -> None:
        """Add the log lines that are new since the last state (all, after a reset)."""
        if view.total < self._logged:
            self.log.clear()
            self._logged = 0
        new = min(view.total - self._logged, len(view.log))
        for line in view.log[len(view.log) - new:] if new > 0 else ():
            self.log.add_line(functools.partial(line_html, line))
        self._logged = view.total

    def refresh_targets(self) -> None:
        """Fill the list with the running lab servers, keeping what the user typed."""
        servers = self.context.bridge.running_servers()
        targets = [(server.id, server.address, server.name) for server in servers]
        if targets == self._targets:
            return  # a count changed, not the list: leave an open popup alone
        self._targets = targets
        typed = self.target_combo.currentText()
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        for server in servers:
            self.target_combo.addItem(f"{server.address} — {server.name}", server.id)
        if typed:
            self.target_combo.setEditText(typed)
        elif not servers:
            self.target_combo.setEditText("")
        self.target_combo.blockSignals(False)
        if servers and not typed:  # the first server shows: its transport goes with it
            self._server_picked(0)
        self._show_start_of_target()

    def _show_start_of_target(self, *_: object) -> None:
        self.target_edit.setCursorPosition(0)  # the address, not the name's end

    def _server_list_changed(self, *_: object) -> None:
        self.refresh_targets()

    def _server_picked(self, index: int) -> None:
        """A lab server picked from the list: its transport goes with it."""
        if index < 0:
            return
        node = self.context.bridge.nodes.get(self.target_combo.itemData(index))
        spec = server_kinds().get(node.kind) if node is not None else None
        if spec is not None:
            self.transport_combo.setCurrentIndex(
                max(0, self.transport_combo.findData(spec.transport.value)))

    def choose_server(self, node_id: str) -> bool:
        """Pick the running lab server ``node_id`` from the list; False if it is not there."""
        self.refresh_targets()
        index = self.target_combo.findData(node_id)
        if index >= 0:
            self.target_combo.setCurrentIndex(index)
            self._server_picked(index)
            self._show_start_of_target()
        return index >= 0

    def settings(self) -> dict[str, str]:
        """What the fields say, sent with every action."""
        return {"server": target_of(self.target_combo.currentText()),
                "transport": str(self.transport_combo.currentData()),
                "hex": "true" if self.hex_box.isChecked() else "false"}

    # ---- actions ---------------------------------------------------------------

    def _connect_clicked(self) -> None:
        spawn(self.close_connection() if self.connected else self.connect_to_target())

    def _send_clicked(self) -> None:
        if not getattr(self.state, "busy", ""):
            spawn(self.send())

    async def added(self) -> None:
        self.input.setFocus()

    async def connect_to_target(self) -> bool:
        """Connect to the chosen server; True when connected, else the error shows."""
        outcome = await self.act("connect", **self.settings())
        return outcome is not None and outcome.ok

    async def close_connection(self) -> None:
        await self.act("close")

    async def send(self) -> None:
        """Send what is in the input box (connecting first if need be)."""
        text = self.input.text()
        outcome = await self.act("send", text, **self.settings())
        if outcome is not None and outcome.ok and self.input.text() == text:
            self.input.selectAll()

    def log_text(self) -> str:
        return self.log.toPlainText()
