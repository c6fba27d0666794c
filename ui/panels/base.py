"""What every node panel shares: its node, a state dot, a remove button, an error line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lab.engine import EngineError
from lab.model import ClientState, NodeInfo, NodeState, Outcome, ServerState
from ui import theme
from ui.bridge import EngineBridge
from ui.commands import Commands
from ui.engine_thread import EngineThread, spawn
from ui.presentation import fit_rows

#: The state dot's tone (theme.set_tone): its colour in the look in use.
STATE_TONES = {
    NodeState.RUNNING: "good",
    NodeState.STARTING: "warn",
    NodeState.STOPPED: "faint",
    NodeState.FAILED: "bad",
}


@dataclass(frozen=True, slots=True)
class PanelContext:
    """What a panel needs: the commands (to act), the bridge (to watch), and the
    engine's thread (for what has no command yet)."""

    lab: EngineThread
    bridge: EngineBridge
    commands: Commands = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "commands", Commands(self.lab))


def make_table(parent: QWidget, model: QAbstractItemModel, *, single: bool = False,
               elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> QTableView:
    """A read-only table over ``model`` for a panel: whole rows selected (one at a
    time if ``single``), no row numbers, one line a row as high as the font needs,
    and a text too long for its cell cut with "…" where ``elide`` says. The caller
    sizes the columns and the height."""
    table = QTableView(parent)
    table.setModel(model)
    table.verticalHeader().hide()
    fit_rows(table)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    if single:
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setWordWrap(False)
    table.setTextElideMode(elide)
    return table


class NodePanel(QGroupBox):
    """A group box titled with the node's name, showing its state; subclasses add the rest.

    Signals:
        removed(str): the node is gone from the engine (the window drops the panel).
    """

    removed = Signal(str)

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info.name, parent)
        self.info = info
        self.context = context
        self.dot = QLabel("●", self)
        self.state_label = QLabel(self)
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.clicked.connect(lambda: spawn(self.remove()))
        self.error_label = QLabel(self)
        theme.set_tone(self.error_label, "bad")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.error_text = ""
        header = QHBoxLayout()
        header.setSpacing(6)
        header.addWidget(self.dot)
        header.addWidget(self.state_label, 1)
        header.addWidget(self.remove_button)
        self.body = QVBoxLayout(self)
        self.body.setSpacing(6)
        self.body.addLayout(header)
        #: The node's state as the engine published it (a ClientState or ServerState;
        #: None until the first arrives).
        self.state: Any = None
        self._settings_shown: dict[str, str] = {}  # what the fields last took, by setting

    @property
    def node_id(self) -> str:
        return self.info.id

    def finish_layout(self) -> None:
        """Subclasses call this after adding their rows: the error line goes last.
        The node's latest state, if the bridge has one, is shown at once."""
        self.body.addWidget(self.error_label)
        self.update_node(self.info)
        bridge = self.context.bridge
        state = (bridge.client_states if self.info.role == "client"
                 else bridge.server_states).get(self.node_id)
        if state is not None:
            self.update_state(state)

    def update_state(self, state: ClientState | ServerState) -> None:
        """Take the node's state from the bridge (or a command's answer) unless it is
        older than the one shown, and show it."""
        if self.state is not None and state.revision < self.state.revision:
            return
        self.state = state
        if isinstance(state, ClientState):
            self.show_error(state.error)
        self.show_state(state)
        self.state_label.setText(self.describe(self.info))

    def setting_changed(self, state: ClientState, name: str, default: str = "",
                        value: str | None = None) -> str | None:
        """The setting ``name`` (or ``value``, what the panel shows for it) when it
        differs from what the fields last took, else None: a state that repeats the
        settings leaves what the user typed and has not sent yet."""
        value = state.setting(name, default) if value is None else value
        if self._settings_shown.get(name) == value:
            return None
        self._settings_shown[name] = value
        return value

    def show_state(self, state: Any) -> None:
        """Show ``state`` (a ClientState for a client panel, a ServerState for a
        server panel): settings in the fields, the view in the panel's widgets."""

    async def act(self, verb: str, *args: str, **settings: object) -> Outcome | None:
        """Run a client action on the engine (the same command a lesson step runs),
        with ``settings`` (the panel's fields) taken first; the panel shows the
        outcome from the state that comes back. None if the engine refused."""
        try:
            return await self.context.commands.client_act(self.node_id, verb, args,
                                                          settings=settings or None)
        except EngineError as exc:
            self.show_error(str(exc))
            return None

    def update_node(self, info: NodeInfo) -> None:
        """Take the node's state (from the bridge or a command's answer), unless it
        is older than what the panel shows: bridge events come after the answers."""
        if info.id == self.info.id and info.revision < self.info.revision:
            return
        self.info = info
        self.show_node(info)

    def show_node(self, info: NodeInfo) -> None:
        """Show ``info``; panels extend this to show their own fields."""
        self.setTitle(info.name)
        theme.set_tone(self.dot, STATE_TONES.get(info.state, "faint"))
        self.dot.setToolTip(info.state.value)
        self.state_label.setText(self.describe(info))

    def describe(self, info: NodeInfo) -> str:
        """The line beside the state dot; a busy client says what it is doing."""
        busy = getattr(self.state, "busy", "")
        return f"{info.state.value} · {busy}…" if busy else info.state.value

    def show_error(self, text: str) -> None:
        """Show ``text`` in red under the panel (an empty text hides the line)."""
        self.error_text = text
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    async def added(self) -> None:
        """Called once when the user has just added this node from the toolbar."""

    async def remove(self) -> None:
        """Remove the node from the engine; the panel goes when that is done."""
        commands = self.context.commands
        drop = commands.remove_server if self.info.role == "server" else commands.remove_client
        try:
            await drop(self.node_id)
        except EngineError as exc:
            self.show_error(str(exc))
            return
        self.removed.emit(self.node_id)

    async def stop_watch(self, stop: Callable[[], object] | None) -> None:
        """Call ``stop`` (what a watch handed back) on the engine thread, where the
        watch lives, and wait for it; ``None`` (no watch) does nothing."""
        if stop is None:
            return

        async def run_stop() -> None:
            stop()

        await self.context.lab.call(run_stop)
