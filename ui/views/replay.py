"""Replay from the inspector: re-send a captured message, or its whole client
conversation, to its server as a new connection (Engine.replay, lab/replay.py).

The result or the error goes to the status bar (never a dialog); the new
connection's first message is selected, so the inspector and the wire show it
beside the original, and the wire calls its client "Replay of c3".
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from lab.engine import EngineError
from lab.model import Message, Sender
from ui.commands import Commands
from ui.engine_thread import EngineThread, spawn
from ui.models.sequence import SequenceModel
from ui.views.inspector import InspectorView

STATUS_MS = 15000


class Replayer:
    """The two replay actions of ``window``'s inspector (its context menu, and
    Ctrl+R / Ctrl+Alt+R), and the names of the connections they made."""

    def __init__(self, window: QMainWindow, lab: EngineThread, inspector: InspectorView,
                 diagram: SequenceModel) -> None:
        self.window = window
        self.lab = lab
        self.inspector = inspector
        self.diagram = diagram
        #: A replay's connection → the connection it replayed.
        self.originals: dict[str, str] = {}
        self._select: tuple[str, int] | None = None  # (connection, after message id)
        self.message_action = self._action(
            "Replay this message", "Ctrl+R",
            "Send the selected client message again to its server, as a new connection "
            "(for a server's answer: the request it answers)", whole=False)
        self.conversation_action = self._action(
            "Replay the whole conversation", "Ctrl+Alt+R",
            "Send everything the client of the selected message's connection sent again, "
            "in order, to its server as a new connection", whole=True)
        inspector.context_actions += [self.message_action, self.conversation_action]
        inspector.model.rowsInserted.connect(self._select_new)

    def _action(self, text: str, keys: str, tip: str, *, whole: bool) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{tip} ({keys})")
        action.triggered.connect(lambda: spawn(self.replay(whole)))
        self.window.addAction(action)
        return action

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, STATUS_MS)

    def _ids(self, message: Message) -> Sequence[int] | None:
        """The client message to re-send for ``message``: itself, or for a server's
        the request it answers (paired, else the last client message before it on
        its connection); None if there is none."""
        if message.sender is Sender.CLIENT:
            return [message.id]
        model = self.inspector.model
        partner = model.partner(message.id)
        if partner is not None:
            return [partner]
        row = model.row_of(message.id)
        for earlier in range(-1 if row is None else row - 1, -1, -1):
            before = model.message(earlier)
            if before.connection == message.connection and before.sender is Sender.CLIENT:
                return [before.id]
        return None

    async def replay(self, whole: bool) -> str | None:
        """Replay the selected message (or its whole conversation); the new
        connection's id, or None if it failed (the status bar says why)."""
        message = self.inspector.selected_message()
        if message is None:
            self._status("Select a message in the inspector to replay it.")
            return None
        ids = None if whole else self._ids(message)
        if not whole and ids is None:
            self._status(f"#{message.id} answers no request: nothing to replay.")
            return None
        what = message.connection if whole else f"#{ids[0] if ids else message.id}"
        self._status(f"Replaying {what}…")
        try:
            result = await Commands(self.lab).replay(message.connection, ids)
        except EngineError as exc:
            self._status(f"Cannot replay {what}: {exc}")
            return None
        self._status(result.text)
        if result.connection is None:
            return None
        self.originals[result.connection] = message.connection
        self.diagram.rename()  # its client lane: "Replay of c3", not an address
        self._select = (result.connection, message.id)
        self._select_new()
        return result.connection

    def _select_new(self, *_: object) -> None:
        """Select the first message of the replay's connection once it is shown."""
        if self._select is None:
            return
        conn, after = self._select
        model = self.inspector.model
        first = None
        for row in range(model.rowCount() - 1, -1, -1):
            message = model.message(row)
            if message.id <= after:
                break
            if message.connection == conn:
                first = message.id
        if first is not None:
            self._select = None
            self.inspector.select_message(first)

    def name(self, message: Message) -> str | None:
        """What the wire calls the client of a replay's connection (else None)."""
        original = self.originals.get(message.connection)
        return None if original is None else f"Replay of {original}"
