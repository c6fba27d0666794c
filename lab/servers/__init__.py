"""Server kinds: each is one module that starts a real server on a hidden port.

The engine puts a Wire in front of every backend, on the port the user chose.
Adding a server kind means one module here and one entry in SERVER_KINDS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from lab.model import Transport


class Backend(Protocol):
    """A running server the Wire forwards to."""

    address: tuple[str, int]

    async def close(self) -> None: ...


BackendStarter = Callable[[dict[str, str]], Awaitable[Backend]]


@dataclass(frozen=True, slots=True)
class ServerKind:
    kind: str
    title: str
    transport: Transport
    default_port: int
    start: BackendStarter
    protocol: str = ""
    options: dict[str, str] = field(default_factory=dict)
    #: A UDP kind that also answers over TCP on the same port (DNS) names the
    #: dissector for its TCP side here; its backend then has ``tcp_address``.
    tcp_dissector: str = ""

    @property
    def dissector(self) -> str:
        return self.protocol or self.kind


def server_kinds() -> dict[str, ServerKind]:
    """Every server kind the lab knows, by its command-line name."""
    from lab.servers import dns, echo, ftp, http, pop3, smtp, ws

    return {k.kind: k for k in (*echo.KINDS, *http.KINDS, *smtp.KINDS, *pop3.KINDS,
                                *ftp.KINDS, *ws.KINDS, *dns.KINDS)}
