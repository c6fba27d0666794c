"""The panel of a TCP or UDP echo server: port, start/stop, live connection count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from lab.engine import EngineError
from lab.model import NodeInfo, NodeState, ServerState, Transport, parse_address
from lab.servers import server_kinds
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext
from ui.panels.share import ShareRow

Facts = dict[str, str]


def _port_of(address: str, fallback: int) -> int:
    try:
        return parse_address(address)[1]
    except ValueError:
        return fallback


class EchoServerPanel(NodePanel):
    """One echo server: choose a port, Start/Stop it, see how many talk to it."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        spec = server_kinds().get(info.kind)
        self.udp = spec is not None and spec.transport is Transport.UDP
        default = spec.default_port if spec is not None else 7007
        self.port_spin = QSpinBox(self)
        self.port_spin.setRange(0, 65535)
        self.port_spin.setValue(_port_of(info.address, default))
        self.port_spin.setSpecialValueText("0 (any free port)")
        self.port_spin.setToolTip("The port clients connect to; 0 lets the system pick one")
        self.port_spin.setMinimumWidth(130)
        self._asked: int | None = None
        self.share = ShareRow(self)
        self.start_button = QPushButton("Start", self)
        self.start_button.clicked.connect(self._start_stop_clicked)
        self.count_label = QLabel(self)
        self.remove_button.setToolTip("Stop and remove this server")
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.addWidget(self.share, 0, 0, 1, 2)
        grid.addWidget(QLabel("Port", self), 1, 0)
        grid.addWidget(self.port_spin, 1, 1)
        grid.addWidget(self.start_button, 2, 0)
        grid.addWidget(self.count_label, 2, 1)
        self.refused_label = QLabel(self)
        self.refused_label.setWordWrap(True)
        self.refused_label.setToolTip(
            "What this server refused: each refusal is in the capture too (the server's "
            "reply or its note), so the class can see an attack turned away")
        theme.set_tone(self.refused_label, "warn")
        self.refused_label.hide()
        grid.addWidget(self.refused_label, 3, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        self.finish_layout()

    @property
    def running(self) -> bool:
        return self.info.state in (NodeState.RUNNING, NodeState.STARTING)

    def describe(self, info: NodeInfo) -> str:
        if info.state is NodeState.RUNNING:
            return f"running at {info.address}"
        return info.state.value

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        running = info.state in (NodeState.RUNNING, NodeState.STARTING)
        self.start_button.setText("Stop" if running else "Start")
        self.start_button.setToolTip("Stop listening and close every connection" if running
                                     else "Listen on the port above")
        self.port_spin.setEnabled(not running)
        if self._asked is None:
            self._asked = self.port_spin.value()  # what starting asks for (0: any)
        port = _port_of(info.address, 0) if info.state is NodeState.RUNNING else 0
        # running: the port it listens on (never "0"); stopped: the one asked for
        self.port_spin.setValue(port or self._asked)
        self.share.show_address(info.address)
        noun = "peers" if self.udp else "connections"
        self.count_label.setText(f"{noun}: {info.connections}")
        if info.state is NodeState.FAILED and info.detail and not self.error_text:
            self.show_error(info.detail)

    def show_state(self, state: ServerState) -> None:
        self.show_refused(getattr(state.view, "refused", ()))
        self.show_view(state.view)

    def show_refused(self, refused: tuple[tuple[str, int], ...]) -> None:
        """"Turned away: failed logins 12 · FTP bounce attempts 1" (hidden while
        nothing was)."""
        shown = " · ".join(f"{reason} {count:,}" for reason, count in refused if count)
        self.refused_label.setText(f"Turned away: {shown}" if shown else "")
        self.refused_label.setVisible(bool(shown))

    def show_view(self, view: Any) -> None:
        """Show the server's live data (its kind's view from lab/servers/*_live.py;
        None while it is stopped); panels with live data override this."""

    def _start_stop_clicked(self) -> None:
        spawn(self.stop() if self.running else self.start())

    async def added(self) -> None:
        await self.start()

    async def start(self) -> None:
        """Start on the port in the spin box; a failure shows in the panel, in red."""
        self.show_error("")
        self.start_button.setEnabled(False)
        self._asked = self.port_spin.value()
        try:
            info = await self.context.commands.start_server(self.node_id,
                                                            port=self.port_spin.value())
        except EngineError as exc:
            self.show_error(f"Could not start: {exc}")
        else:
            self.update_node(info)
        finally:
            self.start_button.setEnabled(True)

    async def stop(self) -> None:
        self.start_button.setEnabled(False)
        try:
            info = await self.context.commands.stop_server(self.node_id)
            self.update_node(info)
        except EngineError as exc:
            self.show_error(str(exc))
        finally:
            self.start_button.setEnabled(True)


def add_folder_row(panel: EchoServerPanel, tip: str, choose_tip: str,
                   on_choose: Callable[[], None]) -> tuple[QLabel, QPushButton]:
    """A server panel's "folder it serves" line with its Choose… button, added to
    the panel's body; returns the label and the button."""
    label = QLabel(panel)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    theme.set_tone(label, "faint")
    label.setToolTip(tip)
    button = QPushButton("Choose…", panel)
    button.setToolTip(choose_tip)
    button.clicked.connect(on_choose)
    row = QHBoxLayout()
    row.addWidget(label, 1)
    row.addWidget(button)
    panel.body.addLayout(row)
    return label, button


class OptionsServerPanel(EchoServerPanel):
    """A server panel whose options (a folder, a password...) may be changed: it keeps
    what the running server's state says of them in ``facts``.

    Subclasses say which facts a view holds (``facts_of``) and show ``facts`` in
    ``_show_facts``.
    """

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self.facts: Facts = {}
        super().__init__(info, context, parent)

    def facts_of(self, view: Any) -> Facts:
        """The facts (root, password...) in the server's live view; none by default."""
        return {}

    def show_view(self, view: Any) -> None:
        if view is not None:
            self.facts.update({k: v for k, v in self.facts_of(view).items() if v})
            self._show_facts()

    def _show_facts(self) -> None:
        """Show ``facts``; subclasses fill this in."""

    async def set_options(self, **options: str) -> bool:
        """Apply server options (a running server restarts on the same port; its new
        state shows the options taken)."""
        self.show_error("")
        try:
            info = await self.context.commands.set_server_options(self.node_id, **options)
        except (EngineError, OSError, ValueError) as exc:
            self.show_error(f"Could not apply that: {exc}")
            return False
        self.update_node(info)
        return True
