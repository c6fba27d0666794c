"""The panel of an echo client: pick a server, connect, send text or hex, see replies."""

from __future__ import annotations

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

from lab.clients.echo import REPLY_WAIT, parse_payload
from lab.engine import EngineError
from lab.model import NodeInfo, NodeState, Transport
from lab.servers import server_kinds
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext
from ui.panels.log import RichLog
from ui.views.hexview import fixed_font

SHOWN_LIMIT = 200
LOG_LINES = 500


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


class EchoClientPanel(NodePanel):
    """One echo client, like netcat: connect to a server, send, read what comes back."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
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
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.clicked.connect(self._connect_clicked)
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
        self._busy = False
        self._targets: list[tuple[str, str, str]] | None = None
        self._layout_rows()
        self.finish_layout()
        context.bridge.node_changed.connect(self._server_list_changed)
        context.bridge.node_removed.connect(self._server_list_changed)
        self.refresh_targets()

    def _layout_rows(self) -> None:
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.addWidget(QLabel("Server", self), 0, 0)
        grid.addWidget(self.target_combo, 0, 1)
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
    def connected(self) -> bool:
        return self.info.state is NodeState.RUNNING

    def describe(self, info: NodeInfo) -> str:
        if info.state is NodeState.RUNNING:
            return f"connected ({info.detail})"
        if info.state is NodeState.FAILED:
            return "failed"
        return info.detail or "not connected"

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        running = info.state is NodeState.RUNNING
        self.state_label.setToolTip(f"from {info.address}" if running else "")
        self.connect_button.setText("Disconnect" if running else "Connect")
        self.connect_button.setToolTip("Close the connection" if running
                                       else "Connect to the server chosen on the left")

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
        self._show_start_of_target()

    def _show_start_of_target(self, *_: object) -> None:
        self.target_edit.setCursorPosition(0)  # the address, not the name's end

    def _server_list_changed(self, *_: object) -> None:
        self.refresh_targets()

    def choose_server(self, node_id: str) -> bool:
        """Pick the running lab server ``node_id`` from the list; False if it is not there."""
        self.refresh_targets()
        index = self.target_combo.findData(node_id)
        if index >= 0:
            self.target_combo.setCurrentIndex(index)
            self._show_start_of_target()
        return index >= 0

    def chosen(self) -> tuple[str, Transport | None]:
        """The ``host:port`` to connect to, and the transport when a lab server is chosen."""
        text = self.target_combo.currentText()
        index = self.target_combo.currentIndex()
        transport = None
        if index >= 0 and self.target_combo.itemText(index) == text:
            node = self.context.bridge.nodes.get(self.target_combo.itemData(index))
            spec = server_kinds().get(node.kind) if node is not None else None
            transport = spec.transport if spec is not None else None
        return target_of(text), transport

    # ---- actions ---------------------------------------------------------------

    def _connect_clicked(self) -> None:
        spawn(self.close_connection() if self.connected else self.connect_to_target())

    def _send_clicked(self) -> None:
        if not self._busy:
            spawn(self.send())

    async def added(self) -> None:
        self.input.setFocus()

    async def connect_to_target(self) -> bool:
        """Connect to the chosen server; True when connected, else the error shows."""
        target, transport = self.chosen()
        if not target:
            self.show_error("Choose a server first, or type host:port.")
            return False
        lab = self.context.lab
        self.show_error("")
        self.connect_button.setEnabled(False)
        try:
            info = await lab.call(lab.engine.client_connect, self.node_id, target, transport)
        except EngineError as exc:
            self.show_error(str(exc))
            return False
        finally:
            self.connect_button.setEnabled(True)
        self.update_node(info)
        self._note(f"connected to {target}")
        return True

    async def close_connection(self) -> None:
        lab = self.context.lab
        try:
            info = await lab.call(lab.engine.client_close, self.node_id)
        except EngineError as exc:
            self.show_error(str(exc))
            return
        self.update_node(info)
        self._note("disconnected")

    async def send(self) -> None:
        """Send what is in the input box and log the reply (or that none came)."""
        try:
            data = parse_payload(self.input.text(), self.hex_box.isChecked())
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if not data:
            self.show_error("Nothing to send: type some text first.")
            return
        self._busy = True
        self.send_button.setEnabled(False)
        try:
            await self._send(data)
        finally:
            self._busy = False
            self.send_button.setEnabled(True)

    async def _send(self, data: bytes) -> None:
        if not self.connected and not await self.connect_to_target():
            return
        lab = self.context.lab
        self.show_error("")
        self._line("→ sent", data, "client")
        try:
            reply = await lab.call(lab.engine.client_send, self.node_id, data, REPLY_WAIT)
        except EngineError as exc:
            self.show_error(str(exc))
            self._note(f"error: {exc}", "bad")
            return
        if reply:
            self._line("← reply", reply, "server")
        else:
            self._note(f"(no reply within {REPLY_WAIT:g} s)")
        self.input.selectAll()

    def _line(self, what: str, data: bytes, meaning: str) -> None:
        """A line in the colour of who sent it (``meaning``: client or server)."""
        size = f"({len(data)} byte{'s' if len(data) != 1 else ''})"
        text = f"{html.escape(what)} {html.escape(show_bytes(data))} {size}"
        self.log.add_line(lambda: theme.span(text, meaning))

    def _note(self, text: str, meaning: str = "faint") -> None:
        self.log.add_line(lambda: theme.span(html.escape(text), meaning))


    def log_text(self) -> str:
        return self.log.toPlainText()


