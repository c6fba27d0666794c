"""Who is really at the other end of a lab server's connection.

A lab server sits behind its Wire, so it sees every client as the Wire's own socket
on 127.0.0.1. For each socket the Wire opens to a server (a TCP connection, a UDP
session's socket) it tells this table the client it stands for and how to capture a
note on that client's Connection. A server then refuses per client address (failed
logins, FTP data addresses, DNS answer rates) and says so in the capture, the way a
server reached directly would, and knows whether the client is on another machine
(the server is shared on the network: lab/lan.py).

Everything here runs on the engine's loop; a socket address is ``(host, port)``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Peer:
    """The client a Wire's socket stands for."""

    host: str
    port: int
    #: Captures ``text`` as the server's note on the client's Connection (an
    #: injected Message: nothing of it crossed the network).
    note: Callable[[str], object]

    @property
    def remote(self) -> bool:
        """Whether the client is on another machine (not a loopback address)."""
        return not is_loopback(self.host)


_PEERS: dict[tuple[str, int], Peer] = {}


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _key(address: Sequence[Any]) -> tuple[str, int]:
    return str(address[0]), int(address[1])


def register(local: Sequence[Any], peer: Peer) -> None:
    """The Wire's socket at ``local`` (its sockname) stands for ``peer``."""
    _PEERS[_key(local)] = peer


def stand_for(socket_end: Any, client: Sequence[Any],
              note: Callable[[str], object]) -> tuple[str, int] | None:
    """Register the Wire's socket of transport ``socket_end`` (to the server) as standing
    for ``client``; its local address (to ``forget`` it later), None if it has none."""
    local = socket_end.get_extra_info("sockname") if socket_end is not None else None
    if not local or not client:
        return None
    key = _key(local)
    _PEERS[key] = Peer(str(client[0]), int(client[1]), note)
    return key


def forget(local: Sequence[Any]) -> None:
    """The Wire's socket at ``local`` is closed."""
    _PEERS.pop(_key(local), None)


def of(address: Sequence[Any] | None) -> Peer | None:
    """The client behind ``address`` (a peer address as a lab server sees it: the
    Wire's socket), or None for a client that reached the server directly."""
    if not address or len(address) < 2:
        return None
    return _PEERS.get(_key(address))


def client_host(address: Sequence[Any] | None) -> str:
    """The real client's address: the Wire's client for a Wire's socket, else the
    address's own host ("" for none)."""
    peer = of(address)
    if peer is not None:
        return peer.host
    return str(address[0]) if address else ""


def remote(address: Sequence[Any] | None) -> bool:
    """Whether the client behind ``address`` is on another machine."""
    return not is_loopback(client_host(address) or "127.0.0.1")


def note(address: Sequence[Any] | None, text: str) -> None:
    """Capture ``text`` as the server's note on the client's Connection (nothing for
    a client that reached the server directly: there is no Connection to note on)."""
    peer = of(address)
    if peer is not None:
        peer.note(text)


def count() -> int:
    """How many Wire sockets the table knows (for tests: none are left behind)."""
    return len(_PEERS)
