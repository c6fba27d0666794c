"""The banner that shows, while any server is shared on the network, the address
to give students; it hides again when no server is shared."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from lab.lan import is_shared, share_addresses
from lab.model import NodeInfo, NodeState, parse_address
from ui import theme
from ui.bridge import EngineBridge


class ShareBanner(QLabel):
    """One line per shared server: its name and the address(es) students connect to."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        theme.set_tone(self, "box")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setToolTip("These servers can be reached from other machines on the network")
        #: node id → (its address when last looked at, its name, the addresses to share)
        self._shared: dict[str, tuple[str, str, list[str]]] = {}
        bridge.node_changed.connect(self.node_changed)
        bridge.node_removed.connect(self.node_removed)
        self.hide()

    def node_changed(self, info: NodeInfo) -> None:
        known = self._shared.get(info.id)
        if known is not None and known[:2] == (info.address, info.name) and \
                info.state is NodeState.RUNNING:
            return  # a count changed, nothing to look up again
        self._shared.pop(info.id, None)
        if info.role == "server" and info.state is NodeState.RUNNING:
            try:
                host, port = parse_address(info.address)
            except ValueError:
                host, port = "", 0
            if is_shared(host):
                self._shared[info.id] = (info.address, info.name,
                                         share_addresses(info.kind, host, port))
        self._show()

    def node_removed(self, node_id: str) -> None:
        self._shared.pop(node_id, None)
        self._show()

    def _show(self) -> None:
        lines = [f"{name}: {', '.join(addresses) or '(no network address found)'}"
                 for _, name, addresses in self._shared.values()]
        self.setText("Shared on the network. Students connect to\n" + "\n".join(lines))
        self.setVisible(bool(lines))
