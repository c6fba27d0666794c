"""The main window: clients on the left, the wire in the middle, servers on the right,
and the inspector below."""

from __future__ import annotations

import time

from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lab import kinds as kind_table
from lab.clients import client_kinds
from lab.engine import EngineError
from lab.model import ClientState, Message, NodeInfo, Sender, ServerState
from lab.naming import Namer
from lab.servers import server_kinds
from ui import theme
from ui.bridge import EngineBridge
from ui.engine_thread import EngineThread, spawn
from ui.models.messages import MESSAGE_ROLE, MessageTableModel
from ui.models.sequence import SequenceModel
from ui.panels import NodePanel, PanelContext, has_panel, panel_class, shortcut
from ui.viewmenu import ViewControls
from ui.views.capture_file import CaptureFiles
from ui.views.column import (
    SERVERS_HINT,
    STEP_HINTS,
    PanelColumn,
    clients_hint,
    column_header,
    next_step,
    share_compactly,
)
from ui.views.export import ExportMenu
from ui.views.inspector import InspectorView
from ui.views.lessons import LessonControls
from ui.views.replay import Replayer
from ui.views.sequence import SequenceView
from ui.views.share_banner import ShareBanner
from ui.views.wire_controls import WireControls

TITLE = "Client-Server Lab"
#: Presenting, the share (percent) of the middle's height for the selected message
#: in words, below the diagram, and its least height in pixels.
EXPLAIN_SHARE = 23
EXPLAIN_LEAST = 120
#: How long a step's last message is waited for, to be selected (seconds).
SELECT_WAIT = 5.0
WIRE_HINT = "Messages appear here as arrows once a client talks to a server."


class MainWindow(QMainWindow):
    """The lab's window. ``server_port`` overrides every kind's default port for
    servers added from the toolbar (tests use 0 so that nothing clashes); zoom and
    look are remembered in ``settings`` (the user's own by default)."""

    def __init__(self, lab: EngineThread, bridge: EngineBridge,
                 server_port: int | None = None, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.lab = lab
        self.bridge = bridge
        self.server_port = server_port
        self.context = PanelContext(lab, bridge)
        self.panels: dict[str, NodePanel] = {}
        self._sized = False
        self.setWindowTitle(TITLE)
        self.model = MessageTableModel(self)
        self.inspector = InspectorView(self.model, self)
        self.namer = Namer(bridge.nodes, bridge.endpoints, bridge.connections)
        self.inspector.namer = self.name_of
        # the wire: a sequence diagram over the inspector's filtered rows, sharing its selection
        self.diagram = SequenceModel(self.inspector.proxy, self.name_of, self.is_closed, self)
        self.wire = SequenceView(self.diagram, self.inspector.table.selectionModel(), self)
        self.replayer = Replayer(self, lab, self.inspector, self.diagram)
        self.clients = PanelColumn("Clients", "they ask", clients_hint(), self)
        self.servers = PanelColumn("Servers", "they answer", SERVERS_HINT, self)
        self._make_actions()
        self._make_toolbar()
        self._make_layout()
        self.status = QLabel(self)
        self.statusBar().addPermanentWidget(self.status)
        self.view = ViewControls(self, settings or QSettings("client-server-lab", "cslab"),
                                 secondary=self._secondary, layout=self._present_layout)
        self.view.presentation.toggled.connect(self._presenting)
        self.diagram.lanes_changed.connect(self.view.presentation.relayout_soon)
        self._tab_before = 0
        self._split_before: list[int] = []
        #: A step's last message, to select once it arrives, and until when to wait.
        self._select_soon: tuple[int, float] | None = None
        self.model.rowsInserted.connect(self._select_coming)
        self.wire_controls.dock.visibilityChanged.connect(self._dock_changed)
        self.lessons.focus = self.focus_step
        self.wire_controls.held_now = self._held_now
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.view.present_action)
        self.toolbar.addWidget(self.view.button)
        self.model.follow(bridge.capture)  # rows that left memory are read from its store
        bridge.messages_added.connect(self.model.append)
        bridge.messages_amended.connect(self.model.amend)
        bridge.messages_added.connect(self._update_status)
        self.inspector.follow(bridge)  # "sampling 1 in K" when messages come too fast
        bridge.connections_changed.connect(self._update_status)
        bridge.node_changed.connect(self._node_changed)
        bridge.node_removed.connect(self._node_removed)
        bridge.client_changed.connect(self._state_changed)
        bridge.server_changed.connect(self._state_changed)
        self.model.rowsInserted.connect(self._update_wire_hint)
        self.model.modelReset.connect(self._update_wire_hint)  # a lesson starts clean
        bridge.cleared.connect(self._update_status)
        self.wire.clicked.connect(self._wire_clicked)
        self.wire.exported.connect(lambda text: self.statusBar().showMessage(text, 10000))
        bridge.connections_changed.connect(lambda _: self.wire.viewport().update())
        bridge.endpoints_named.connect(self.diagram.rename)  # often after a first message
        self._update_status()
        self._fit_to_screen()

    # ---- actions and toolbar -----------------------------------------------------

    def _make_actions(self) -> None:
        server_sides, client_sides = kind_table.servers(), kind_table.clients()
        self.server_actions: dict[str, QAction] = {}
        for kind, spec in server_kinds().items():
            if not has_panel("server", kind):
                continue  # an engine kind without a panel yet: serve it with cslab serve
            action = QAction(spec.title, self)
            note = server_sides[kind].note if kind in server_sides else ""
            action.setToolTip(f"Add a {spec.title} on port {spec.default_port} and start it"
                              + (f": {note}" if note else ""))
            if keys := shortcut("server", kind):
                action.setShortcut(QKeySequence(keys))
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
            action.triggered.connect(lambda _=False, k=kind: spawn(self.add_server(k)))
            self.server_actions[kind] = action
        self.client_actions: dict[str, QAction] = {}
        for kind, client_spec in client_kinds().items():
            if not has_panel("client", kind):
                continue
            action = QAction(client_spec.title, self)
            title = client_spec.title.lower()
            article = "an" if title[:1] in "aeiou" else "a"
            note = client_sides[kind].note if kind in client_sides else ""
            action.setToolTip(f"Add {article} {title}" + (f": {note}" if note else ""))
            if keys := shortcut("client", kind):
                action.setShortcut(QKeySequence(keys))
            self.addAction(action)
            action.triggered.connect(lambda _=False, k=kind: spawn(self.add_client(k)))
            self.client_actions[kind] = action
        self.stop_all_action = QAction("Stop all", self)
        self.stop_all_action.setToolTip("Stop every server and disconnect every client")
        self.stop_all_action.setShortcut(QKeySequence("Ctrl+Shift+X"))
        self.stop_all_action.triggered.connect(lambda: spawn(self.stop_all()))
        self.quit_action = QAction("Quit", self)
        # not StandardKey.Quit: that one is empty on some desktops
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setToolTip("Stop everything and close the lab (Ctrl+Q)")
        self.quit_action.triggered.connect(self.close)
        self.addAction(self.quit_action)

    def _menu_button(self, text: str, tip: str, shortcut: str,
                     actions: dict[str, QAction]) -> QToolButton:
        menu = QMenu(self)
        for action in actions.values():
            menu.addAction(action)
        button = QToolButton(self)
        button.setText(text)
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setToolTip(f"{tip} ({shortcut})")
        button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")
        opener = QAction(self)
        opener.setShortcut(QKeySequence(shortcut))
        opener.triggered.connect(button.showMenu)
        self.addAction(opener)
        return button

    def _make_toolbar(self) -> None:
        bar = self.toolbar = QToolBar("Lab", self)
        bar.setObjectName("lab-toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.server_button = self._menu_button("+ Server ▾", "Add a server", "Ctrl+Shift+S",
                                               self.server_actions)
        self.client_button = self._menu_button("+ Client ▾", "Add a client", "Ctrl+Shift+C",
                                               self.client_actions)
        bar.addWidget(self.client_button)
        bar.addWidget(self.server_button)
        bar.addSeparator()
        bar.addAction(self.stop_all_action)
        bar.addSeparator()
        self.wire_controls = WireControls(self, self.lab, self.bridge)
        bar.addAction(self.wire_controls.step_action)
        bar.addAction(self.wire_controls.faults_action)
        bar.addSeparator()
        self.capture_files = CaptureFiles(self, self.lab, self.bridge)
        bar.addAction(self.capture_files.open_action)
        bar.addAction(self.capture_files.save_action)
        self.export_button = ExportMenu(self, self.lab)
        bar.addWidget(self.export_button)
        self.addToolBar(bar)
        # its presenter's bar goes below; a lesson may turn step mode on
        self.lessons = LessonControls(self, self.lab, self.wire_controls, self.capture_files)
        first = bar.actions()[0]
        bar.insertWidget(first, self.lessons.button)
        bar.insertSeparator(first)

    def _make_layout(self) -> None:
        middle = QWidget(self)
        self.wire_hint = QLabel(WIRE_HINT, middle)
        theme.set_tone(self.wire_hint, "hint")
        self.wire_hint.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.wire_hint.setWordWrap(True)
        wire_layout = QVBoxLayout(middle)
        wire_layout.setContentsMargins(6, 4, 6, 4)
        self.diagram_button = QToolButton(middle)
        self.diagram_button.setText("Save diagram ▾")
        self.diagram_button.setToolTip("Export the sequence diagram (all of it, or the rows "
                                       "selected with Shift) as a PNG picture or SVG drawing")
        self.diagram_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.diagram_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")
        self.diagram_button.setMenu(self.wire.export_menu(self.diagram_button))
        self.diagram_button.menu().aboutToShow.connect(self.wire.update_export_actions)
        self.wire_heading = QWidget(middle)  # presentation mode hides it: room for rows
        heading = QHBoxLayout(self.wire_heading)
        heading.setContentsMargins(0, 0, 0, 0)
        heading.addWidget(column_header("The wire", "clients ⟷ servers, time flows down",
                                        middle), 1)
        heading.addWidget(self.diagram_button)
        wire_layout.addWidget(self.wire_heading)
        self.share_banner = ShareBanner(self.bridge, middle)  # while any server is shared
        wire_layout.addWidget(self.share_banner)
        wire_layout.addWidget(self.wire_controls.bar)  # the held message, when stepping
        wire_layout.addWidget(self.wire_hint)
        wire_layout.addWidget(self.wire, 1)
        # the middle: the wire, and (presentation mode) the selected message below it
        self.middle = QSplitter(Qt.Orientation.Vertical, self)
        self.middle.addWidget(middle)
        self.middle.setChildrenCollapsible(False)
        self.top = QSplitter(Qt.Orientation.Horizontal, self)
        for widget in (self.clients, self.middle, self.servers):
            self.top.addWidget(widget)
        self.top.setStretchFactor(0, 0)
        self.top.setStretchFactor(1, 1)
        self.top.setStretchFactor(2, 0)
        self.top.setSizes([390, 800, 330])
        self.top.setChildrenCollapsible(False)
        self.split = QSplitter(Qt.Orientation.Vertical, self)
        self.split.addWidget(self.top)
        self.split.addWidget(self.inspector)
        self.split.setSizes([540, 420])
        self.split.setChildrenCollapsible(False)
        self.setCentralWidget(self.split)

    def _fit_to_screen(self) -> None:
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1600, 1000)
            return
        area = screen.availableGeometry()
        if area.width() <= 1920 and area.height() <= 1200:
            self.setGeometry(area)  # a laptop or a projector: use all of it
        else:
            self.resize(1600, 1000)

    # ---- presentation mode -------------------------------------------------------

    def _secondary(self) -> list[QWidget]:
        """What presentation mode hides: the message list and its filter (the diagram
        shows the messages, the details pane the selected one), the wire's heading and
        the status bar."""
        return [self.inspector.table, self.inspector.heading, self.wire_heading,
                self.statusBar()]

    def _present_layout(self) -> None:
        """Presentation mode's shares: the panels' columns the whole height beside the
        middle, where the diagram takes all but EXPLAIN_SHARE (the selected message in
        words, below it); the diagram widest and never narrower than its lanes need
        (the panel columns go compact for it)."""
        if self.inspector.parent() is self.middle:
            height = self.middle.height()
            below = max(EXPLAIN_LEAST, height * EXPLAIN_SHARE // 100)
            self.middle.setSizes([height - below, below])
        share_compactly(self.top, self.wire.painter.layout(0).width, self.wire)

    def _presenting(self, on: bool) -> None:
        """Presenting, the details pane moves below the diagram and explains the
        selected message in words; leaving, it goes back below everything."""
        details = self.inspector.details
        if on:
            self._tab_before = details.currentIndex()
            details.setCurrentWidget(self.inspector.explain)
            self._split_before = self.split.sizes()
            self.middle.addWidget(self.inspector)
            self.view.presentation.relayout_soon()
        else:
            details.setCurrentIndex(self._tab_before)
            self.split.addWidget(self.inspector)
            if len(self._split_before) == 2:
                self.split.setSizes(self._split_before)
            self.clients.compact = self.servers.compact = False
        self.wire.follower.follow()  # the newest arrow stays in view

    def _dock_changed(self, _visible: bool) -> None:
        """A dock (the faults) came or went: in presentation mode share the room
        again; else, while one shows, the columns give the diagram the room it loses."""
        if self.view.presentation.active:
            self.view.presentation.relayout_soon()
            return
        docked = any(d.isVisible() and not d.isFloating() for d in self.findChildren(QDockWidget))
        if docked:
            share_compactly(self.top, self.wire.painter.layout(0).width, self.wire)
        else:
            self.clients.compact = self.servers.compact = False
            width = self.top.width()
            self.top.setSizes([width * 27 // 100, width * 49 // 100, width * 24 // 100])
        self.wire.follower.follow()

    def focus_step(self, client: str, server: str, message: int | None) -> None:
        """Show what a lesson step is about: the panels of its ``client`` and
        ``server`` (node ids) scrolled into view, and its last message (an id, once
        the bridge has brought it) selected, so Explain says what it means; the
        diagram follows the newest arrow again (a step is what the class looks at)."""
        self.wire.follower.follow()
        for column, node in ((self.clients, client), (self.servers, server)):
            panel = self.panels.get(node)
            if panel is not None:
                column.scroll_to(panel)
        self._select_later(message)

    def _held_now(self, message: int) -> None:
        """Step mode holds ``message`` first: select it (and follow), as after a step."""
        self.wire.follower.follow()
        self._select_later(message)

    def _select_later(self, message: int | None) -> None:
        """Select ``message`` now, or when it arrives within SELECT_WAIT seconds (not
        later: a message filtered or sampled out must not take the selection minutes
        after, when the filter is cleared)."""
        self._select_soon = None
        if message is not None and not self.inspector.select_message(message):
            self._select_soon = (message, time.monotonic() + SELECT_WAIT)

    def _select_coming(self, *_: object) -> None:
        """The message a step ended with arrived: select it."""
        if self._select_soon is None:
            return
        message, until = self._select_soon
        if time.monotonic() > until or self.inspector.select_message(message):
            self._select_soon = None

    # ---- nodes -------------------------------------------------------------------

    async def add_server(self, kind: str) -> NodePanel | None:
        """Add a server of ``kind`` with its panel, and start it (errors show there)."""
        spec = server_kinds()[kind]
        port = spec.default_port if self.server_port is None else self.server_port
        try:
            info = await self.context.commands.add_server(kind, port=port, start=False)
        except EngineError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return None
        panel = self.ensure_panel(info)
        if panel is not None:
            await panel.added()
        return panel

    async def add_client(self, kind: str) -> NodePanel | None:
        try:
            info = await self.context.commands.add_client(kind)
        except EngineError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return None
        panel = self.ensure_panel(info)
        if panel is not None:
            await panel.added()
        return panel

    async def stop_all(self) -> None:
        await self.context.commands.shutdown()
        self.statusBar().showMessage("Stopped every server and client.", 5000)

    def ensure_panel(self, info: NodeInfo) -> NodePanel | None:
        """The panel of ``info``'s node, made (and placed in its column) on first sight."""
        panel = self.panels.get(info.id)
        if panel is not None:
            panel.update_node(info)
            return panel
        cls = panel_class(info.role, info.kind)
        if cls is None:
            self.statusBar().showMessage(f"No panel for {info.role} kind {info.kind!r}", 8000)
            return None
        panel = cls(info, self.context)
        panel.removed.connect(self._node_removed)
        self.panels[info.id] = panel
        (self.servers if info.role == "server" else self.clients).add(panel)
        return panel

    def _node_changed(self, info: NodeInfo) -> None:
        self.ensure_panel(info)
        self.wire.viewport().update()
        self._update_status()

    def _state_changed(self, state: ClientState | ServerState) -> None:
        panel = self.panels.get(state.node)
        if panel is not None:
            panel.update_state(state)

    def _node_removed(self, node_id: str) -> None:
        panel = self.panels.pop(node_id, None)
        if panel is not None:
            column = self.servers if panel.info.role == "server" else self.clients
            column.remove(panel)
        self._update_status()

    def is_closed(self, connection: str) -> bool:
        return self.bridge.is_closed(connection)

    def name_of(self, message: Message, side: Sender) -> str:
        """What the wire calls one end of ``message``: the lab's names (lab/naming.py),
        except a replay's client, named after the connection it replays."""
        if side is Sender.CLIENT:
            replay = self.replayer.name(message)
            if replay is not None:
                return replay
        return self.namer(message, side)

    # ---- status ------------------------------------------------------------------

    def _update_status(self, *_: object) -> None:
        messages = self.model.rowCount()
        open_now = self.bridge.open_connections()
        seen = self.bridge.seen
        running = len(self.bridge.running_servers())
        self.status.setText(
            f"{messages} message{'s' if messages != 1 else ''}  ·  "
            f"{open_now} open connection{'s' if open_now != 1 else ''} ({seen} in all)  ·  "
            f"{running} server{'s' if running != 1 else ''} running"
        )
        # what to do next, in the status bar until it is done (other messages first)
        roles = [node.role for node in self.bridge.nodes.values()]
        hint = next_step(roles.count("server"), roles.count("client"))
        shown = self.statusBar().currentMessage()
        if shown != hint and (not shown or shown in STEP_HINTS):
            self.statusBar().showMessage(hint)  # "" clears it
        servers = self.bridge.running_servers()
        self.clients.set_hint(clients_hint(servers[0].name if servers else None))

    def _update_wire_hint(self, *_: object) -> None:
        self.wire_hint.setVisible(self.model.rowCount() == 0)

    def _wire_clicked(self, index: QModelIndex) -> None:
        message = index.data(MESSAGE_ROLE)
        if message is not None:
            self.inspector.select_message(message.id)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # share the width once, when it is known
            self._sized = True
            width = max(self.top.width(), self.width())
            self.top.setSizes([width * 27 // 100, width * 49 // 100, width * 24 // 100])

    def closeEvent(self, event: QCloseEvent) -> None:
        self.bridge.close()
        super().closeEvent(event)
