"""Wire controls: faults for a server's Wire, step mode, and the held-message bar.

``WireControls`` owns three things the main window places:
- ``step_action``: the toolbar's "Step mode" (Ctrl+Shift+K): step mode on every Wire;
- ``dock``: a narrow dock with the faults of the chosen server's Wire (latency,
  jitter, bandwidth, loss, seed; stall, reset after N bytes, refuse) and a checkbox
  to step that Wire alone; every change applies at once. ``faults_action``
  (Ctrl+Shift+W) shows and hides it, checked while it shows;
- ``bar``: the held message, with Forward (F8), Forward all (Shift+F8),
  Drop (F7) and Edit… (F9). It shows while something is held.
The engine is asked on its own thread; what is held is polled while stepping, and
the window's message model is told (its rows and the diagram's arrows say "held"
while held, "stepped" after).
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDockWidget,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from lab.commands import run_sync
from lab.engine import EngineError
from lab.model import NodeInfo, Sender
from lab.naming import outside_client
from lab.wire.hold import HeldMessage
from ui import theme
from ui.bridge import EngineBridge
from ui.engine_thread import EngineThread, spawn
from ui.models.messages import MessageTableModel
from ui.views.edit_dialog import EditDialog
from ui.views.fault_form import FaultForm
from ui.views.sequence import SequenceView

#: How often the held queue is asked for while stepping (ms).
POLL_MS = 150
#: The faults dock's widest, in average characters of its font (about 300 px at
#: 100% zoom): it takes its room from the diagram, and grows with a zoom.
DOCK_CHARS = 44


class _Narrow(QWidget):
    """The faults dock's body: no wider than DOCK_CHARS of its font (a zoom too)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fit()

    def _fit(self) -> None:
        self.setMaximumWidth(self.fontMetrics().averageCharWidth() * DOCK_CHARS)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._fit()
        super().changeEvent(event)


class HeldBar(QWidget):
    """The oldest held message and what to do with it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 2, 0, 2)
        column.setSpacing(2)
        self.label = QLabel(self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.set_tone(self.label, "warn")
        # on its own line above the buttons, wrapped: a long summary must not widen
        # the diagram's column, nor be cut where the buttons begin
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        column.addWidget(self.label)
        row = QHBoxLayout()
        row.addStretch(1)
        column.addLayout(row)
        self.forward_button = self._button("Forward", "F8",
                                           "Send the held message on, as it is")
        self.forward_all_button = self._button("Forward all", "Shift+F8",
                                               "Send everything held on, oldest first")
        self.drop_button = self._button("Drop", "F7", "Throw the held message away: over "
                                        "TCP the Wire resets the connection (the client "
                                        "sees 'connection reset'), a UDP datagram is lost")
        self.edit_button = self._button("Edit…", "F9", "Change the held bytes (as text or "
                                        "hex) and send your version; the capture keeps both")
        for button in (self.forward_button, self.forward_all_button, self.drop_button,
                       self.edit_button):
            row.addWidget(button)
        self.held: list[HeldMessage] = []
        self.hide()

    def _button(self, text: str, key: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setShortcut(QKeySequence(key))
        button.setToolTip(f"{tip} ({key})")
        return button

    def show_held(self, held: list[HeldMessage], names: Callable[[HeldMessage], str]) -> None:
        self.held = held
        if not held:
            self.hide()
            return
        self.label.setText(held_text(held, names))
        self.label.setToolTip(f"#{held[0].id} {held[0].summary}\nThe Wire has read these "
                              f"bytes and holds them: the other side has not received "
                              f"them yet.")
        self.show()


def held_text(held: list[HeldMessage], names: Callable[[HeldMessage], str]) -> str:
    """What the held bar says of the oldest of ``held``: what it is, once, and what to do.
    The size only when the summary does not already give it (a raw chunk's does)."""
    first = held[0]
    summary = first.summary if len(first.summary) <= 100 else first.summary[:99] + "…"
    size = len(first.data)
    counted = any(f"{number} byte" in first.summary for number in (f"{size:,}", str(size)))
    size_text = "" if counted else f" ({size:,} byte{'' if size == 1 else 's'})"
    more = f"  ·  {len(held) - 1} more held" if len(held) > 1 else ""
    return (f"Held at the Wire (read, not yet delivered): #{first.id} {names(first)}: "
            f"{summary}{size_text} — Forward (F8) · Drop (F7) · Edit (F9){more}")


class WireControls:
    """Step mode, the faults dock and the held bar of ``window``."""

    def __init__(self, window: QMainWindow, lab: EngineThread, bridge: EngineBridge) -> None:
        self.window = window
        self.lab = lab
        self.bridge = bridge
        self.step_action = QAction("Step mode", window)
        self.step_action.setCheckable(True)
        self.step_action.setShortcut(QKeySequence("Ctrl+Shift+K"))
        self.step_action.setToolTip("Step mode on every Wire: hold each message until you "
                                    "Forward (F8), Drop (F7) or Edit (F9) it (Ctrl+Shift+K)")
        self.step_action.toggled.connect(lambda on: spawn(self.set_step(None, on)))
        self.faults_action = QAction("Faults…", window)
        self.faults_action.setCheckable(True)  # checked while the dock shows
        self.faults_action.setShortcut(QKeySequence("Ctrl+Shift+W"))
        self.faults_action.setToolTip("Show or hide the faults of a server's Wire: latency, "
                                      "bandwidth, loss, stall, reset, refuse (Ctrl+Shift+W)")
        self.bar = HeldBar(window)
        self.bar.forward_button.clicked.connect(lambda: self._act("forward"))
        self.bar.forward_all_button.clicked.connect(lambda: self._act("forward_all"))
        self.bar.drop_button.clicked.connect(lambda: self._act("drop"))
        self.bar.edit_button.clicked.connect(self.edit)
        self._make_dock()
        self.faults_action.toggled.connect(self._show_dock)
        self.dock.visibilityChanged.connect(self._dock_shown)
        self._stepping: set[str | None] = set()
        self._first_held: int | None = None
        #: Told the id of each message that becomes the first held (the window
        #: selects it, so the diagram shows it and Explain says what it is).
        self.held_now: Callable[[int], None] = lambda _id: None
        self.timer = QTimer(window)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(lambda: spawn(self.refresh()))
        bridge.node_changed.connect(self._node_changed)
        bridge.node_removed.connect(lambda _: self._fill_servers())

    def _make_dock(self) -> None:
        self.dock = QDockWidget("Wire controls", self.window)
        self.dock.setObjectName("wire-controls")
        body = _Narrow(self.dock)
        layout = QFormLayout(body)
        layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.target = QComboBox(body)
        self.target.setToolTip("The server whose Wire these settings change")
        self.target.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target.setMinimumContentsLength(12)  # a long name is cut, not the diagram
        self.target.currentIndexChanged.connect(lambda _: spawn(self._load()))
        layout.addRow("Wire of", self.target)
        self.form = FaultForm(lambda name, value: spawn(self.set_fault(name, value)), body)
        layout.addRow(self.form)
        self.step_one = QCheckBox("Step this Wire", body)
        self.step_one.setToolTip("Hold each message on this server's Wire only")
        self.step_one.toggled.connect(
            lambda on: spawn(self.set_step(self.node_id(), on)) if self.node_id() else None)
        layout.addRow(self.step_one)
        self.dock.setWidget(body)
        self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self._fill_servers()

    def _show_dock(self, on: bool) -> None:
        """Ctrl+Shift+W shows the dock, and hides it again."""
        if on == (not self.dock.isHidden()):
            return
        self.dock.setVisible(on)
        if on:
            self.dock.raise_()

    def _dock_shown(self, _: bool) -> None:
        """The dock was shown or closed (its X, too): the action follows it."""
        if shiboken6.isValid(self.faults_action):
            self.faults_action.setChecked(not self.dock.isHidden())

    # ---- the chosen server -------------------------------------------------------

    def node_id(self) -> str | None:
        data = self.target.currentData()
        return data if isinstance(data, str) else None

    def _fill_servers(self) -> None:
        if not shiboken6.isValid(self.target):  # the window is gone; the bridge is not
            return
        chosen = self.node_id()
        servers = sorted((n for n in self.bridge.nodes.values() if n.role == "server"),
                         key=lambda n: n.id)
        self.target.blockSignals(True)
        self.target.clear()
        for node in servers:
            self.target.addItem(f"{node.name} ({node.address})", node.id)
        index = self.target.findData(chosen)
        self.target.setCurrentIndex(max(index, 0) if servers else -1)
        self.target.blockSignals(False)
        self.form.setEnabled(bool(servers))
        self.step_one.setEnabled(bool(servers))
        if self.node_id() != chosen:
            spawn(self._load())

    def _node_changed(self, info: NodeInfo) -> None:
        if (shiboken6.isValid(self.target) and info.role == "server"
                and self.target.findData(info.id) < 0):
            self._fill_servers()

    async def _load(self) -> None:
        node = self.node_id() if self._alive() else None
        if node is None:
            return
        board = self.lab.engine.wire_board
        faults = await self.lab.call(run_sync, board.faults, node)
        stepping = await self.lab.call(run_sync, board.stepping, node)
        if not shiboken6.isValid(self.form):
            return
        self.form.show_faults(faults)
        self.step_one.blockSignals(True)
        self.step_one.setChecked(stepping)
        self.step_one.blockSignals(False)

    async def set_fault(self, name: str, value: object) -> None:
        node = self.node_id()
        if node is None:
            return
        try:
            board = self.lab.engine.wire_board
            await self.lab.call(run_sync, board.set_faults, node, **{name: value})
        except (EngineError, ValueError) as exc:
            self.window.statusBar().showMessage(str(exc), 8000)

    # ---- step mode and the held queue --------------------------------------------

    def _alive(self) -> bool:
        """Whether the lab and the window are still there (a poll may come after)."""
        return (self.lab.running and shiboken6.isValid(self.timer)
                and shiboken6.isValid(self.bar))

    async def set_step(self, node: str | None, on: bool) -> None:
        if not self._alive():
            return
        await self.lab.call(run_sync, self.lab.engine.wire_board.set_step, node, on)
        if not self._alive():
            return
        if on:
            self._stepping.add(node)
        else:
            self._stepping.discard(node)
            if node is None:
                self._stepping.clear()
        if self._stepping:
            self.timer.start()
        else:
            self.timer.stop()
        if node is None:
            await self._load()  # "Step this Wire" follows the engine
        await self.refresh()

    async def refresh(self) -> None:
        if not self._alive():  # the lab or the window is closing: nothing to ask
            return
        held, known = await self.lab.call(run_sync, self._ask_held)
        if self._alive():
            self.bar.show_held(held, self._names)
            self._show_holds(frozenset(m.id for m in held), known)
            first = held[0].id if held else None
            if first is not None and first != self._first_held:
                self.held_now(first)  # what Forward acts on: selected, explained
            self._first_held = first

    def _ask_held(self) -> tuple[list[HeldMessage], int]:
        """What the Wires hold, and the capture's last message id then (engine's loop)."""
        engine = self.lab.engine
        messages = engine.capture.messages
        return engine.wire_board.held(None), messages[-1].id if messages else 0

    def _show_holds(self, held: frozenset[int], known: int) -> None:
        """Rows and arrows show held while held and stepped after (ui/models/messages.py);
        the diagram paints them from the model, so it is repainted when they change."""
        model = self.window.findChild(MessageTableModel)
        if model is None:
            return
        model.show_holds(held, known)
        for view in self.window.findChildren(SequenceView):
            view.viewport().update()

    def _names(self, held: HeldMessage) -> str:
        """The held message's ends as the diagram's lanes name them."""
        conn = self.bridge.connections.get(held.connection)
        node = self.bridge.nodes.get(held.node)
        server = node.name if node is not None else (conn.server if conn else "server")
        client = "client"
        if conn is not None:
            maker = self.bridge.nodes.get(self.bridge.endpoints.get(conn.client, ""))
            client = maker.name if maker is not None else outside_client(conn.client)
        return (f"{client} → {server}" if held.sender is Sender.CLIENT
                else f"{server} → {client}")

    def _act(self, what: str) -> None:
        if what != "forward_all" and not self.bar.held:
            return
        spawn(self._do(what, self.bar.held[0].id if self.bar.held else None))

    async def _do(self, what: str, first: int | None, data: bytes | None = None) -> None:
        """Act on message ``first``, the one the bar showed when the user acted (by the
        time this runs a refresh may have emptied the bar)."""
        board = self.lab.engine.wire_board
        try:
            if what == "forward_all":
                await self.lab.call(run_sync, board.forward_all, None)
            elif first is not None:
                if what == "edit":
                    await self.lab.call(run_sync, board.edit, first, data)
                else:
                    await self.lab.call(run_sync, getattr(board, what), first)
        except EngineError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
        await self.refresh()

    def edit(self) -> None:
        if not self.bar.held:
            return
        dialog = EditDialog(self.bar.held[0], self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            spawn(self._do("edit", dialog.held.id, dialog.edited()))
