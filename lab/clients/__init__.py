"""Client kinds: each is one module with an async API the panels and scenarios call.

A kind with ``make`` is built by the engine with a router (see ``Router``; the
engine's is a ``Routes``, which can also say when a datagram sent through an
outbound Wire was refused beyond it) and a callback to report each local address
it connects from (so the UI can name that end of the wire), and handed to its
panel whole (``Engine.client_object``); the echo client, whose connection the
engine manages itself, has none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from lab.model import Transport

#: Where to really connect for (transport, host, port, protocol): a lab server
#: directly, anything else through an outbound Wire dissecting ``protocol``.
Router = Callable[[Transport, str, int, str], Awaitable[tuple[str, int]]]
#: Called with "host:port" of each local socket a client connects from.
Seen = Callable[[str], None]
#: Wait until a datagram sent from ``local`` ("host:port") to ``routed`` (an address
#: the router gave) is refused beyond it, and return the error (ConnectionRefusedError:
#: no server there); None at once when nothing could tell (a lab server, reached
#: directly, refuses nothing unseen). The caller cancels the wait once answered.
UpstreamError = Callable[[tuple[str, int], str], Awaitable[Exception | None]]


@dataclass(frozen=True, slots=True)
class Routes:
    """A Router (call it as one) with ``upstream_error`` beside it."""

    route: Router
    upstream_error: UpstreamError

    def __call__(self, transport: Transport, host: str, port: int,
                 protocol: str) -> Awaitable[tuple[str, int]]:
        return self.route(transport, host, port, protocol)


class ClientObject(Protocol):
    async def close(self) -> object: ...


@dataclass(frozen=True, slots=True)
class ClientKind:
    kind: str
    title: str
    make: Callable[[Router, Seen], ClientObject] | None = None


def client_kinds() -> dict[str, ClientKind]:
    """Every client kind the lab knows, by name."""
    from lab.clients import browser, dns, echo, ftp, http, load, pop3, smtp, ws

    return {k.kind: k for k in (*echo.KINDS, *http.KINDS, *browser.KINDS, *smtp.KINDS,
                                *pop3.KINDS, *ftp.KINDS, *ws.KINDS, *dns.KINDS,
                                *load.KINDS)}
