"""Who is really at the other end of a lab server's connection.

A lab server sits behind its Wire, so it sees every client as the Wire's own socket
on 127.0.0.1. For each socket the Wire opens to a server (a TCP connection, a UDP
session's socket) it tells this table the client it stands for and how to capture a
note on that client's Connection. A server then refuses per client address (failed
logins, FTP data addresses, DNS answer rates) and says so in the capture, the way a
server reached directly would, and knows whether the client is on another machine
(the server is shared on the network: lab/lan.py).

A Wire may also open paths of its own for a connection (the FTP layer's data Wires,
lab/wire/layers/ftp.py): it notes each here (``opened``), so the server accepts
exactly those (``was_opened``) and not the host's other loopback services.

Everything here runs on the engine's loop; a socket address is ``(host, port)``.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lab import lan

#: Paths a Wire opened for one connection that are remembered (the latest).
OPENED_KEPT = 4
#: How long (seconds) this machine's own addresses are taken as read.
OWN_ADDRESSES_FOR = 5.0


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
        """Whether the client is on another machine."""
        return not on_this_machine(self.host)


_PEERS: dict[tuple[str, int], Peer] = {}
_OPENED: dict[tuple[str, int], list[tuple[tuple[str, int], Callable[[], bool]]]] = {}
_own: tuple[float, frozenset[str]] = (0.0, frozenset())


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def same_host(one: str, other: str) -> bool:
    """Whether two IP addresses are one host (``::ffff:10.0.0.2`` is ``10.0.0.2``)."""
    try:
        first, second = (ipaddress.ip_address(h.partition("%")[0]) for h in (one, other))
    except ValueError:
        return one == other
    return _plain(first) == _plain(second)


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> object:
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def on_this_machine(host: str) -> bool:
    """Whether ``host`` is this machine: loopback, or one of its own addresses (the
    teacher's own client reaching a server shared on the machine's LAN address)."""
    global _own
    if is_loopback(host):
        return True
    now = time.monotonic()
    if now - _own[0] > OWN_ADDRESSES_FOR:
        _own = (now, frozenset(face.address for face in lan.interfaces()))
    return any(same_host(host, own) for own in _own[1])


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
    # A Wire in front of another Wire (cslab relay before a lab server): the client
    # is the one the first Wire stands for, not its socket on this machine.
    _PEERS[key] = _PEERS.get(_key(client)) or Peer(str(client[0]), int(client[1]), note)
    return key


def forget(local: Sequence[Any] | None) -> None:
    """The Wire's socket at ``local`` is closed: its client and paths are forgotten."""
    if local:
        _PEERS.pop(_key(local), None)
        _OPENED.pop(_key(local), None)


def opened(local: Sequence[Any] | None, path: Sequence[Any],
           alive: Callable[[], bool]) -> None:
    """The Wire whose socket to the server is ``local`` opened ``path`` for that
    connection (an FTP data Wire's address): the server may connect there while
    ``alive()`` (the path still listens: a port let go may be anyone's next). Nothing
    for a socket the table does not know (its connection has ended)."""
    if local and _key(local) in _PEERS:
        kept = _OPENED.setdefault(_key(local), [])
        kept.append((_key(path), alive))
        del kept[:-OPENED_KEPT]


def was_opened(address: Sequence[Any] | None, path: Sequence[Any]) -> bool:
    """Whether ``path`` was opened by the Wire for the connection a server sees as
    ``address``, and still listens."""
    if not address or len(address) < 2:
        return False
    key = _key(path)
    return any(known == key and alive() for known, alive in _OPENED.get(_key(address), ()))


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
    """Whether the client behind ``address`` is on another machine (not loopback, nor
    one of this machine's own addresses)."""
    return not on_this_machine(client_host(address) or "127.0.0.1")


def note(address: Sequence[Any] | None, text: str) -> None:
    """Capture ``text`` as the server's note on the client's Connection (nothing for
    a client that reached the server directly: there is no Connection to note on)."""
    peer = of(address)
    if peer is not None:
        peer.note(text)


def count() -> int:
    """How many Wire sockets and opened paths the table knows (for tests: none are
    left behind)."""
    return len(_PEERS) + len(_OPENED)
