"""The WebSocket chat server's panel: what the echo server panel has, plus who is in
the room (live), how many messages it has carried, and its message size limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QPushButton,
    QSpinBox,
    QWidget,
)

from lab.engine import Engine, EngineError
from lab.model import NodeInfo
from lab.servers.ws import DEFAULT_MAX_SIZE, ChatBackend, RoomEvent
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import PanelContext
from ui.panels.echo_server import EchoServerPanel
from ui.panels.flow import FlowLayout

MAX_SIZE_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Room:
    """The room as the panel shows it; ``serial`` tells a newer view from an older."""

    members: tuple[str, ...] = ()
    messages: int = 0
    serial: int = 0
    max_size: int = DEFAULT_MAX_SIZE


@dataclass(slots=True)
class RoomWatch:
    backend: ChatBackend
    stop: Callable[[], None]


async def watch_room(engine: Engine, node_id: str, listener: Callable[[RoomEvent], None],
                     old: RoomWatch | None) -> tuple[RoomWatch | None, Room | None]:
    """Runs on the engine's loop: watch the server's room now (None while stopped),
    and how it stands; an old watch of another backend (before a restart) stops.
    The room is None when the watch did not change."""
    backend = engine.server_backend(node_id)
    if old is not None and old.backend is backend:
        return old, None
    if old is not None:
        old.stop()
    if not isinstance(backend, ChatBackend):
        return None, Room()
    room = Room(tuple(backend.members()), backend.messages, backend.serial, backend.max_size)
    return RoomWatch(backend, backend.watch(listener)), room


class WsServerPanel(EchoServerPanel):
    """The chat server: port, start/stop, connections, the room's members and size limit.

    Signals:
        room_event(object): a RoomEvent, emitted on the engine thread; queued to this
            panel's (Qt) thread, where the member list is updated.
    """

    room_event = Signal(object)

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self.room = Room()
        self._watch: RoomWatch | None = None
        self._watch_lock = asyncio.Lock()
        self._resync = False
        super().__init__(info, context, parent)
        self.room_event.connect(self._apply_event, Qt.ConnectionType.QueuedConnection)

    def finish_layout(self) -> None:
        hint = QLabel("Join with <b>ws://HOST:PORT/?name=ana</b>: every message goes to "
                      "everyone in the room.", self)
        hint.setWordWrap(True)
        theme.set_tone(hint, "faint")
        self.size_spin = QSpinBox(self)
        self.size_spin.setRange(16, MAX_SIZE_LIMIT)
        self.size_spin.setValue(DEFAULT_MAX_SIZE)
        self.size_spin.setSuffix(" bytes")
        self.size_spin.setGroupSeparatorShown(True)
        self.size_spin.setToolTip("The largest message the server takes; a bigger one closes "
                                  "that client's connection with 1009 (message too big)")
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setToolTip("Use this limit (a running server restarts on the same "
                                     "port; everyone in the room is disconnected)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(lambda: spawn(self.set_max_size(self.size_spin.value())))
        self.size_spin.valueChanged.connect(lambda _: self.apply_button.setEnabled(True))
        size_row = FlowLayout(spacing=6)  # wraps in a narrow column
        size_row.addWidget(QLabel("Max message", self))
        size_row.addWidget(self.size_spin)
        size_row.addWidget(self.apply_button)
        self.room_label = QLabel(self)
        self.members_model = QStringListModel(self)
        self.members_view = QListView(self)
        self.members_view.setModel(self.members_model)
        self.members_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.members_view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.members_view.setToolTip("Who is in the chat room now, in the order they joined "
                                     "(live)")
        self.members_view.setMinimumHeight(60)
        self.members_view.setMaximumHeight(110)
        self.body.addWidget(hint)
        self.body.addLayout(size_row)
        self.body.addWidget(self.room_label)
        self.body.addWidget(self.members_view)
        self._show_room()
        super().finish_layout()

    # ---- the room ----------------------------------------------------------------

    def members(self) -> list[str]:
        return self.members_model.stringList()

    def _show_room(self) -> None:
        people = len(self.room.members)
        self.room_label.setText(f"In the room: {people} · messages: {self.room.messages}")
        if self.members_model.stringList() != list(self.room.members):
            self.members_model.setStringList(list(self.room.members))

    def _apply_event(self, event: object) -> None:
        if isinstance(event, RoomEvent) and event.serial > self.room.serial \
                and self._watch is not None:
            self.room = Room(event.members, event.messages, event.serial, self.room.max_size)
            self._show_room()

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        self._resync = True
        if not self._watch_lock.locked():
            spawn(self.sync_watch())

    async def sync_watch(self) -> None:
        """Watch the room of the server running now (a restart makes a new one)."""
        async with self._watch_lock:
            while self._resync:  # the node changed again while this awaited
                self._resync = False
                lab = self.context.lab
                watch, room = await lab.call(watch_room, lab.engine, self.node_id,
                                             self.room_event.emit, self._watch)
                self._watch = watch
                if room is not None:  # a new room (or none): its serials start again
                    self.room = room
                    self._show_room()
                if room is not None and watch is not None and not self.apply_button.isEnabled():
                    self.size_spin.blockSignals(True)
                    self.size_spin.setValue(room.max_size)
                    self.size_spin.blockSignals(False)

    async def set_max_size(self, size: int) -> bool:
        """Take messages up to ``size`` bytes (a running server restarts)."""
        lab = self.context.lab
        self.show_error("")
        try:
            info = await lab.call(lab.engine.set_server_options, self.node_id,
                                  max_size=str(size))
        except (EngineError, OSError, ValueError) as exc:
            self.show_error(f"Could not apply that: {exc}")
            return False
        self.apply_button.setEnabled(False)
        self.update_node(info)
        return True

    async def _unwatch(self) -> None:
        async with self._watch_lock:
            watch, self._watch = self._watch, None
            await self.stop_watch(None if watch is None else watch.stop)

    async def remove(self) -> None:
        await self._unwatch()
        await super().remove()
