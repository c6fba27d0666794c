"""The WebSocket chat client's panel: a name, a server, Connect/Leave, the room's
lines as the server pushes them, and a line to send (Enter sends)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from lab.clients.ws import ChatClient, ChatError, ChatEvent
from lab.engine import Engine, EngineError
from lab.model import NodeInfo, NodeState, parse_address
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import STATE_TONES, NodePanel, PanelContext
from ui.panels.log import RichLog
from ui.panels.mail_common import ServerCombo

NAMES = ("ana", "bob", "cy", "dee", "eli", "fay", "gus", "hal")
ROOM_LINES = 1000
#: Close codes that end a chat normally: the user left, or the server stopped.
NORMAL_ENDS = (1000, 1001)


def _chat(engine: Engine, node_id: str) -> ChatClient:
    chat = engine.client_object(node_id)
    assert isinstance(chat, ChatClient)
    return chat


async def watch_chat(engine: Engine, node_id: str,
                     listener: Callable[[ChatEvent], None]) -> Callable[[], None]:
    """Runs on the engine's loop: call ``listener`` for each line and end; the unsubscriber."""
    return _chat(engine, node_id).watch(listener)


async def join_on_engine(engine: Engine, node_id: str, server: str,
                         name: str) -> tuple[str, int]:
    """Runs on the engine's loop: join the room at ``server``; (local address, session)."""
    chat = _chat(engine, node_id)
    try:
        host, port = parse_address(server)
    except ValueError as exc:
        raise ChatError(str(exc)) from None
    local = await chat.connect(host, port, name)
    return local, chat.session


async def say_on_engine(engine: Engine, node_id: str, text: str) -> None:
    await _chat(engine, node_id).say(text)


async def leave_on_engine(engine: Engine, node_id: str) -> None:
    await _chat(engine, node_id).leave()


def default_name(node_name: str) -> str:
    """A different name for each chat panel: ana for #1, bob for #2…"""
    number = re.search(r"#(\d+)$", node_name)
    index = int(number.group(1)) - 1 if number else 0
    return NAMES[index % len(NAMES)]


def line_html(text: str) -> str:
    """A room line: notices (``* …``) faint, a message's sender in bold."""
    if text.startswith("* "):
        return theme.span(f"<i>{html.escape(text)}</i>", "faint")
    name, sep, said = text.partition(": ")
    if sep:
        return f"<b>{html.escape(name)}:</b> {html.escape(said)}"
    return html.escape(text)


class WsChatPanel(NodePanel):
    """Join a chat room and talk; the server's pushes show as they come.

    Signals:
        chat_event(object): a ChatEvent, emitted on the engine thread; queued to this
            panel's (Qt) thread, where the room view is updated.
    """

    chat_event = Signal(object)

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self.joined = False
        self.where = ""
        self._session = 0  # the newest connection seen (events carry theirs)
        self._ended = 0  # the newest connection known to have ended
        self._busy = False
        self._stop_watch: Callable[[], None] | None = None
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Leave the room and remove this chat client")
        self.name_edit = QLineEdit(default_name(info.name), self)
        self.name_edit.setMaxLength(24)
        self.name_edit.setToolTip("Your name in the room; it goes in the upgrade request "
                                  "as /?name=… (a name already taken gets a number)")
        self.name_edit.returnPressed.connect(self._connect_clicked)
        self.server_combo = ServerCombo("ws", context.bridge, self)
        self.server_combo.setToolTip("A running lab WebSocket chat server, or type any "
                                     "host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
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
        self.chat_event.connect(self._apply_event, Qt.ConnectionType.QueuedConnection)
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

    def describe(self, info: NodeInfo) -> str:
        if getattr(self, "joined", False):
            return f"in the room at {self.where}"
        return "not connected"

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        if getattr(self, "joined", False):
            theme.set_tone(self.dot, STATE_TONES[NodeState.RUNNING])
            self.dot.setToolTip("connected")

    def room_lines(self) -> list[str]:
        """The room view as plain lines (what the user reads)."""
        return self.room_view.toPlainText().splitlines()

    def _show_joined(self) -> None:
        joined = self.joined
        self.connect_button.setText("Leave" if joined else "Connect")
        self.connect_button.setToolTip("Close the connection (close code 1000)" if joined else
                                       "Open a WebSocket to the server and join its room")
        self.connect_button.setEnabled(not self._busy)
        self.name_edit.setEnabled(not joined)
        self.server_combo.setEnabled(not joined)
        self.message_edit.setEnabled(joined)
        self.send_button.setEnabled(joined and not self._busy)
        self.show_node(self.info)

    def _apply_event(self, event: object) -> None:
        if not isinstance(event, ChatEvent) or event.session < self._session:
            return  # an earlier connection's late news
        self._session = event.session  # a new one's may come before its join returns
        if event.kind == "line":
            line = event.text
            self.room_view.add_line(lambda: line_html(line))
            return
        ended = f"— {html.escape(event.text)}"
        self.room_view.add_line(lambda: theme.span(ended, "warn"))
        if event.code not in NORMAL_ENDS:
            self.show_error(event.text[:1].upper() + event.text[1:])
        self._ended = event.session
        self.joined = False
        self._show_joined()

    # ---- what the user does ----------------------------------------------------------

    def _connect_clicked(self) -> None:
        if not self._busy:
            spawn(self.leave() if self.joined else self.join())

    def _send_clicked(self) -> None:
        if self.joined and self.message_edit.text():
            spawn(self.send(self.message_edit.text()))

    async def join(self) -> bool:
        """Join the room at the chosen server under the chosen name."""
        lab = self.context.lab
        self.show_error("")
        self.room_view.clear()
        self._busy = True
        self._show_joined()
        try:
            if self._stop_watch is None:
                self._stop_watch = await lab.call(watch_chat, lab.engine, self.node_id,
                                                  self.chat_event.emit)
            where = self.server_combo.address()
            _, session = await lab.call(join_on_engine, lab.engine, self.node_id,
                                        where, self.name_edit.text())
        except (ChatError, EngineError) as exc:
            self.show_error(str(exc))
            return False
        finally:
            self._busy = False
            self._show_joined()
        self._session = max(self._session, session)
        self.joined, self.where = self._ended < session, where  # it may be over already
        self._show_joined()
        self.message_edit.setFocus()
        return True

    async def send(self, text: str) -> bool:
        lab = self.context.lab
        self.show_error("")
        try:
            await lab.call(say_on_engine, lab.engine, self.node_id, text)
        except (ChatError, EngineError) as exc:
            self.show_error(str(exc))
            return False
        if self.message_edit.text() == text:
            self.message_edit.clear()
        return True

    async def leave(self) -> None:
        lab = self.context.lab
        self._busy = True
        self._show_joined()
        try:
            await lab.call(leave_on_engine, lab.engine, self.node_id)
        except EngineError as exc:
            self.show_error(str(exc))
        finally:
            self._busy = False
            self._show_joined()

    async def remove(self) -> None:
        stop, self._stop_watch = self._stop_watch, None
        await self.stop_watch(stop)
        await super().remove()
