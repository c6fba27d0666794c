"""Classroom LAN mode: the machine's IPv4 addresses, the address to share, the caps.

Sharing is off by default: every Wire listens on 127.0.0.1 unless the user
chooses an interface address (or ``0.0.0.0``, all of them) for one server.
A shared Wire gets caps on connections (per client address and in total) so
one busy student cannot take the server from the class.
"""

from __future__ import annotations

import fcntl
import functools
import ipaddress
import resource
import socket
import struct
from dataclasses import dataclass

from lab import kinds

ALL_INTERFACES = "0.0.0.0"
LOOPBACK = "127.0.0.1"
#: The caps a shared Wire gets unless told otherwise; loopback has none.
SHARED_PER_CLIENT = 20
SHARED_TOTAL = 200
SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B
#: Open files one relayed TCP connection takes in this process: the client's socket,
#: the Wire's socket to the server, and the lab server's end of that one.
FILES_PER_CONNECTION = 3
#: Open files kept for everything else: capture files, SQLite, the window, the servers'
#: listening sockets, mail and FTP files being read.
FILES_KEPT = 96


@dataclass(frozen=True, slots=True)
class Interface:
    """One IPv4 address of this machine, with the interface that has it."""

    name: str
    address: str
    #: The network the address is on, as CIDR ("10.0.0.0/24"); the address alone
    #: ("10.0.0.5/32") when the netmask cannot be read.
    network: str = ""

    @property
    def loopback(self) -> bool:
        return self.address.startswith("127.")


def _ioctl_ipv4(name: str, request: int) -> str | None:
    """An interface's IPv4 address or netmask (``request``), or None if it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), request,
                                 struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def _ipv4_of(name: str) -> str | None:
    """The interface's (first) IPv4 address, or None if it has none."""
    return _ioctl_ipv4(name, SIOCGIFADDR)


def _network(name: str, address: str) -> str:
    mask = _ioctl_ipv4(name, SIOCGIFNETMASK) or "255.255.255.255"
    try:
        return str(ipaddress.IPv4Network(f"{address}/{mask}", strict=False))
    except ValueError:
        return f"{address}/32"


def interfaces() -> list[Interface]:
    """This machine's IPv4 addresses, loopback first, in the kernel's interface order."""
    found = [Interface(name, address, _network(name, address))
             for _, name in socket.if_nameindex() if (address := _ipv4_of(name)) is not None]
    return sorted(found, key=lambda face: not face.loopback)


def audience(host: str) -> str:
    """Who can reach a Wire listening on ``host``: "machines on 10.0.0.0/24" (every
    network this machine is on, for all interfaces); "" for loopback."""
    if not is_shared(host):
        return ""
    faces = [face for face in interfaces() if not face.loopback]
    if host not in {ALL_INTERFACES, ""}:
        faces = [face for face in faces if face.address == host]
    networks = list(dict.fromkeys(face.network for face in faces if face.network))
    if not networks:
        return f"machines that can reach {host}"
    return "machines on " + ", ".join(networks)


def is_shared(host: str) -> bool:
    """Whether a Wire listening on ``host`` can be reached from other machines."""
    return not (host.startswith("127.") or host in {"localhost", "::1"})


def share_addresses(protocol: str, host: str, port: int) -> list[str]:
    """What to tell students: ``SCHEME://H:P/`` for a kind or protocol with a URL scheme
    (lab/kinds.py), ``H:P`` otherwise; one per LAN address when ``host`` is all
    interfaces."""
    hosts = ([face.address for face in interfaces() if not face.loopback]
             if host in {ALL_INTERFACES, ""} else [host])
    scheme = kinds.scheme(protocol)
    return [f"{scheme}://{h}:{port}/" if scheme else f"{h}:{port}" for h in hosts]


@functools.cache
def connection_ceiling() -> int:
    """The most relayed connections this process holds at once (0: no ceiling).

    Raises the soft open-file limit to the hard one first (as Go's runtime does), then
    leaves FILES_KEPT files for the rest: past the ceiling a Wire refuses with a note,
    where running out of files would leave clients hanging in the listen queue and
    fill stderr with accept errors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return 0
    return max(1, (soft - FILES_KEPT) // FILES_PER_CONNECTION)


@dataclass(frozen=True, slots=True)
class Caps:
    """Most connections a Wire takes from one client address and in all (0: no cap)."""

    per_client: int = 0
    total: int = 0

    @classmethod
    def for_host(cls, host: str, per_client: int | None = None,
                 total: int | None = None) -> Caps:
        """The caps for a Wire on ``host``: the shared defaults off loopback, none on it;
        a number given wins (0 lifts that cap)."""
        shared = is_shared(host)
        return cls(
            per_client=(SHARED_PER_CLIENT if shared else 0) if per_client is None
            else per_client,
            total=(SHARED_TOTAL if shared else 0) if total is None else total)

    def refusal(self, host: str, from_host: int, in_all: int) -> str:
        """Why a new connection from ``host`` is refused ("" if it is welcome), given
        ``from_host`` and ``in_all`` connections already open."""
        if self.per_client and from_host >= self.per_client:
            return (f"Wire refused {host}: more than {_connections(self.per_client)} "
                    "from one address")
        if self.total and in_all >= self.total:
            return f"Wire refused {host}: more than {_connections(self.total)} in all"
        return ""


def _connections(count: int) -> str:
    return f"{count} connection" if count == 1 else f"{count} connections"
