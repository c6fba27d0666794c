"""The banner that shows, while any server is shared on the network, what is open to
whom: each shared server's address to give students, the machines that can reach it,
what anyone there may do and what guards it (lab/kinds.py ``shared``), the Wire's
connection caps; and a QR code of each shared server's first address for phones (a
click shows it larger). It hides again when no server is shared."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from lab import kinds
from lab.lan import audience, is_shared, share_addresses
from lab.model import NodeInfo, NodeState, parse_address
from ui import theme
from ui.bridge import EngineBridge
from ui.views.qr import QrButton


class ShareBanner(QFrame):
    """One line per shared server: its name and the address(es) students connect to;
    beside them a QR code of each server's first address."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        theme.set_tone(self, "box")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setToolTip("These servers can be reached from other machines on the "
                              "network")
        row.addWidget(self.label, 1)
        self.codes = QHBoxLayout()
        row.addLayout(self.codes)
        #: the QR codes shown, by the address each encodes
        self.qr: dict[str, QrButton] = {}
        #: node id → (its address when last looked at, its name, the addresses to share,
        #: (to whom it is open and with what caps, what anyone there may do))
        self._shared: dict[str, tuple[str, str, list[str], tuple[str, str]]] = {}
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
                                         share_addresses(info.kind, host, port),
                                         _open_to(info.kind, host, info.caps))
        self._show()

    def node_removed(self, node_id: str) -> None:
        self._shared.pop(node_id, None)
        self._show()

    def _show(self) -> None:
        heads = {head for _, _, _, (head, _) in self._shared.values()}
        one = len(heads) == 1
        lines = [f"{name}: {', '.join(addresses) or '(no network address found)'}"
                 f" — {what if one else f'{head}: {what}'}"
                 for _, name, addresses, (head, what) in self._shared.values()]
        to = f", {heads.pop()}" if one else ""
        self.label.setText(f"Shared on the network{to}; refusals show in the capture and "
                           "the server's panel. Students connect to\n" + "\n".join(lines))
        self._show_codes([addresses[0] for _, _, addresses, _ in self._shared.values()
                          if addresses])
        self.setVisible(bool(lines))

    def _show_codes(self, wanted: list[str]) -> None:
        """A QR code for each of ``wanted``, in order; those no longer shared go."""
        if list(self.qr) == wanted:
            return
        for button in self.qr.values():
            self.codes.removeWidget(button)
            button.deleteLater()
        self.qr = {address: QrButton(address, self) for address in wanted}
        for button in self.qr.values():
            self.codes.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)

    def text(self) -> str:
        """The banner's words (the addresses, by server)."""
        return self.label.text()


def _open_to(kind: str, host: str, caps: tuple[int, int]) -> tuple[str, str]:
    """("open to machines on 10.0.0.0/24 (at most 20 connections from one address, 200
    in all)", "send bytes and get them back") for a server of ``kind`` on ``host``
    whose Wire has ``caps``."""
    side = kinds.servers().get(kind)
    limits = [f"at most {caps[0]} connections from one address" if caps[0] else "",
              f"{caps[1]} in all" if caps[1] else ""]
    limited = ", ".join(part for part in limits if part)
    head = f"open to {audience(host)}" + (f" ({limited})" if limited else "")
    return head, (side.shared if side is not None else "")
