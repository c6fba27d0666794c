"""The WebSocket chat server's panel: what the echo server panel has, plus who is in
the room, how many messages it has carried (live, from the server's state), and its
message size limit."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QStringListModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QPushButton,
    QSpinBox,
)

from lab.engine import EngineError
from lab.servers.ws import DEFAULT_MAX_SIZE
from lab.servers.ws_live import RoomView
from ui import theme
from ui.engine_thread import spawn
from ui.panels.echo_server import EchoServerPanel
from ui.panels.flow import FlowLayout

MAX_SIZE_LIMIT = 16 * 1024 * 1024


class WsServerPanel(EchoServerPanel):
    """The chat server: port, start/stop, connections, the room's members and size limit."""

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
        self.show_view(None)
        super().finish_layout()

    # ---- the room ----------------------------------------------------------------

    def members(self) -> list[str]:
        return self.members_model.stringList()

    def show_view(self, view: Any) -> None:
        """The room now (empty while the server is stopped) and its size limit."""
        room = view if isinstance(view, RoomView) else RoomView((), 0, DEFAULT_MAX_SIZE)
        self.room_label.setText(f"In the room: {len(room.members)} · messages: "
                                f"{room.messages}")
        if self.members_model.stringList() != list(room.members):
            self.members_model.setStringList(list(room.members))
        if isinstance(view, RoomView) and not self.apply_button.isEnabled():
            self.size_spin.blockSignals(True)
            self.size_spin.setValue(view.max_size)
            self.size_spin.blockSignals(False)

    async def set_max_size(self, size: int) -> bool:
        """Take messages up to ``size`` bytes (a running server restarts)."""
        self.show_error("")
        try:
            info = await self.context.commands.set_server_options(self.node_id,
                                                                  max_size=str(size))
        except (EngineError, OSError, ValueError) as exc:
            self.show_error(f"Could not apply that: {exc}")
            return False
        self.apply_button.setEnabled(False)
        self.update_node(info)
        return True
