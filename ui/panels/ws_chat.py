"""The WebSocket chat client's panel: a name, a server, Connect/Leave, the room's
lines as the server pushes them, and a line to send (Enter sends). It shows only the
client's state as the engine publishes it (lab/clients/ws.py: the ChatView)."""

from __future__ import annotations

import functools
import html

from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from lab.clients.ws import ChatView
from lab.model import ClientState, NodeInfo, NodeState
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import STATE_TONES, NodePanel, PanelContext
from ui.panels.log import RichLog
from ui.panels.mail_common import ServerCombo

ROOM_LINES = 1000
#: Close codes that end a chat normally: the user left, or the server stopped.
NORMAL_ENDS = (1000, 1001)


def line_html(text: str) -> str:
    """A room line: notices (``* …``) faint, a message's sender in bold."""
    if text.startswith("* "):
        return theme.span(f"<i>{html.escape(text)}</i>", "faint")
    name, sep, said = text.partition(": ")
    if sep:
        return f"<b>{html.escape(name)}:</b> {html.escape(said)}"
    return html.escape(text)


def ended_html(text: str) -> str:
    return theme.span(f"— {html.escape(text)}", "warn")


class WsChatPanel(NodePanel):
    """Join a chat room and talk; the server's pushes show as they come."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        #: What the room view shows: (session, lines received, ended text).
        self._room: tuple[int, int, str] = (0, 0, "")
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Leave the room and remove this chat client")
        self.name_edit = QLineEdit(info.name, self)
        self.name_edit.setMaxLength(24)
        self.name_edit.setToolTip("Your name in the room; it goes in the upgrade request "
                                  "as /?name=… (a name already taken gets a number)")
        self.name_edit.returnPressed.connect(self._connect_clicked)
        self.server_combo = ServerCombo("ws", context.bridge, self)
        self.server_combo.setToolTip("A running lab WebSocket chat server, or type any "
                                     "host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
        self.server_edit: QLineEdit = edit
        edit.setPlaceholderText("127.0.0.1:8765")
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.clicked.connect(self._connect_clicked)
        self.room_view = RichLog(ROOM_LINES, self)
        self.room_view.setMinimumHeight(80)
        self.room_view.setMaximumHeight(140)  # two chat panels fit one above the other
        self.room_view.setPlaceholderText("The room's messages show here as the server "
                                          "pushes them.")
        self.room_view.setToolTip("Everything the server sends this client: its messages "
                                  "arrive without being asked for (server push)")
        self.message_edit = QLineEdit(self)
        self.message_edit.setPlaceholderText("Say something (Enter sends)")
        self.message_edit.setToolTip("One chat message: a TEXT frame to the server, which "
                                     "sends it on to everyone in the room")
        self.message_edit.returnPressed.connect(self._send_clicked)
        self.send_button = QPushButton("Send", self)
        self.send_button.setToolTip("Send the message (Enter)")
        self.send_button.clicked.connect(self._send_clicked)
        self._lay_out()
        self.finish_layout()
        self._show_joined()

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.setHorizontalSpacing(6)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Name", self.name_edit)
        server_row = QHBoxLayout()
        server_row.addWidget(self.server_combo, 1)
        server_row.addWidget(self.connect_button)
        form.addRow("Server", server_row)
        self.body.addLayout(form)
        self.body.addWidget(self.room_view)
        send_row = QHBoxLayout()
        send_row.addWidget(self.message_edit, 1)
        send_row.addWidget(self.send_button)
        self.body.addLayout(send_row)

    # ---- what the panel shows ------------------------------------------------------

    @property
    def view(self) -> ChatView:
        view = getattr(self.state, "view", None)
        return view if isinstance(view, ChatView) else ChatView()

    @property
    def joined(self) -> bool:
        return self.view.connected

    @property
    def busy(self) -> bool:
        return bool(getattr(self.state, "busy", ""))

    def describe(self, info: NodeInfo) -> str:
        if self.busy:
            return f"{self.state.busy}…"
        if self.joined:
            return f"in the room at {self.view.server}"
        return "not connected"

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        if self.joined:
            theme.set_tone(self.dot, STATE_TONES[NodeState.RUNNING])
            self.dot.setToolTip("connected")

    def room_lines(self) -> list[str]:
        """The room view as plain lines (what the user reads)."""
        return self.room_view.toPlainText().splitlines()

    def show_state(self, state: ClientState) -> None:
        self._show_settings(state)
        view = self.view
        self._show_room(view)
        if not state.error and view.ended and view.code not in NORMAL_ENDS:
            self.show_error(view.ended[:1].upper() + view.ended[1:])
        self._show_joined()

    def _show_settings(self, state: ClientState) -> None:
        """The nick (the client's name when none is set) and the server, when they
        changed since last shown and the user is not typing in the field."""
        nick = self.setting_changed(state, "nick", value=state.setting("nick")
                                    or self.info.name)
        if nick is not None and not (self.name_edit.hasFocus()
                                     and self.name_edit.isModified()):
            self.name_edit.setText(nick)
        server = self.setting_changed(state, "server")
        if server and not self.server_edit.hasFocus():
            self.server_combo.setEditText(server)

    def _show_room(self, view: ChatView) -> None:
        """Add the lines the room pushed since the last state; a new connection's
        lines replace the last one's; how a connection ended goes last."""
        session, received, ended = self._room
        if view.session != session or view.received < received or ended:
            if view.session == session and view.received == received and ended == view.ended:
                return
            self.room_view.clear()
            received, ended = view.received - len(view.lines), ""
        new = min(view.received - received, len(view.lines))
        for line in view.lines[len(view.lines) - new:] if new > 0 else ():
            self.room_view.add_line(functools.partial(line_html, line))
        if view.ended and not ended:
            self.room_view.add_line(functools.partial(ended_html, view.ended))
        self._room = (view.session, view.received, view.ended)

    def _show_joined(self) -> None:
        joined, busy = self.joined, self.busy
        self.connect_button.setText("Leave" if joined else "Connect")
        self.connect_button.setToolTip("Close the connection (close code 1000)" if joined else
                                       "Open a WebSocket to the server and join its room")
        self.connect_button.setEnabled(not busy)
        self.name_edit.setEnabled(not joined)
        self.server_combo.setEnabled(not joined)
        self.message_edit.setEnabled(joined)
        self.send_button.setEnabled(joined and not busy)
        self.show_node(self.info)

    # ---- what the user does ----------------------------------------------------------

    def _connect_clicked(self) -> None:
        if not self.busy:
            spawn(self.leave() if self.joined else self.join())

    def _send_clicked(self) -> None:
        if self.joined and self.message_edit.text():
            spawn(self.send(self.message_edit.text()))

    def settings(self) -> dict[str, str]:
        """What the fields say, sent with every action (the name as the nick, unless
        it is the client's own name, the default)."""
        name = self.name_edit.text().strip()
        default = self.info.name[:self.name_edit.maxLength()].strip()
        return {"nick": "" if name == default else name,
                "server": self.server_combo.address()}

    async def join(self) -> bool:
        """Join the room at the chosen server under the chosen name."""
        outcome = await self.act("connect", **self.settings())
        if outcome is not None and outcome.ok:
            self.message_edit.setFocus()
        return outcome is not None and outcome.ok

    async def send(self, text: str) -> bool:
        outcome = await self.act("say", text)
        if outcome is not None and outcome.ok and self.message_edit.text() == text:
            self.message_edit.clear()
        return outcome is not None and outcome.ok

    async def leave(self) -> None:
        await self.act("leave")
