"""A server panel's "Share on the network" switch and the address it shares on.

Off by default: the server's Wire listens on 127.0.0.1. Switched on, the Wire
restarts on the same port on the chosen interface address (or all of them), with
the caps of lab.lan; the window's banner shows the address to give students.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QCheckBox, QComboBox, QVBoxLayout, QWidget

from lab.engine import EngineError
from lab.lan import ALL_INTERFACES, LOOPBACK, interfaces, is_shared
from lab.model import parse_address
from ui.engine_thread import spawn

if TYPE_CHECKING:
    from ui.panels.base import NodePanel


class ShareRow(QWidget):
    """The switch and the interface list for one server panel's node."""

    def __init__(self, panel: NodePanel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.switch = QCheckBox("Share on the network", self)
        self.switch.setToolTip("Let other machines (students' browsers, mail and FTP "
                               "programs) reach this server; off, only this machine can")
        self.interfaces = QComboBox(self)
        self.interfaces.addItem(f"All interfaces ({ALL_INTERFACES})", ALL_INTERFACES)
        for face in interfaces():
            if not face.loopback:
                self.interfaces.addItem(f"{face.name} {face.address}", face.address)
        self.interfaces.setToolTip("The address of this machine that students connect to")
        self.interfaces.setEnabled(False)
        # Narrow enough for the servers' column: a long interface name is cut, not widening it.
        self.interfaces.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.interfaces.setMinimumContentsLength(12)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(2)
        rows.addWidget(self.switch)
        rows.addWidget(self.interfaces)
        self.switch.toggled.connect(self._changed)
        self.interfaces.activated.connect(self._changed)

    def chosen_host(self) -> str:
        """Where the server should listen, as the switch and the list say."""
        return str(self.interfaces.currentData()) if self.switch.isChecked() else LOOPBACK

    def show_address(self, address: str) -> None:
        """Show where the node listens now (from its NodeInfo), without acting on it."""
        try:
            host = parse_address(address)[0]
        except ValueError:
            return
        shared = is_shared(host)
        self.switch.blockSignals(True)
        self.switch.setChecked(shared)
        self.switch.blockSignals(False)
        self.interfaces.setEnabled(shared)
        if shared and (index := self.interfaces.findData(host)) >= 0:
            self.interfaces.setCurrentIndex(index)

    def _changed(self) -> None:
        self.interfaces.setEnabled(self.switch.isChecked())
        # The host as chosen now: a node state arriving before the command runs shows
        # the old address and would turn the switch back.
        spawn(self.apply(self.chosen_host()))

    async def apply(self, host: str | None = None) -> None:
        """Share (or stop sharing) the node on ``host`` (default: the chosen one);
        errors show in the panel."""
        self.panel.show_error("")
        self.setEnabled(False)
        try:
            info = await self.panel.context.commands.share_server(
                self.panel.node_id, self.chosen_host() if host is None else host)
        except EngineError as exc:
            self.panel.show_error(f"Could not share: {exc}")
        else:
            self.panel.update_node(info)
        finally:
            self.setEnabled(True)
