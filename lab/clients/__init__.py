"""Client kinds: each is one module with an async API the panels and scenarios call.

A kind with ``make`` is built by the engine with a router (see ``Router``; the
engine's is a ``Routes``, which can also say when a datagram sent through an
outbound Wire was refused beyond it) and a callback to report each local address
it connects from (so the UI can name that end of the wire), and handed to its
panel whole (``Engine.client_object``); the echo client, whose connection the
engine manages itself, has none.
"""

from __future__ import annotations

import importlib
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


def _lazy(module: str, name: str) -> Callable[[Router, Seen], ClientObject]:
    """The factory ``name`` of ``module``, imported when a client of the kind is made."""

    def make(route: Router, seen: Seen) -> ClientObject:
        factory: Callable[[Router, Seen], ClientObject] = getattr(
            importlib.import_module(module), name)
        return factory(route, seen)

    make.__qualname__ = f"{module}.{name}"
    return make


#: Every client kind, in menu order, without importing their modules (see
#: lab.servers.SERVER_KINDS): a kind's module is imported when its first client is made.
CLIENT_KINDS = (
    ClientKind("echo", "Echo client"),
    ClientKind("http", "Request composer", _lazy("lab.clients.http", "HttpClient")),
    ClientKind("browser", "Mini browser", _lazy("lab.clients.browser", "new_browser")),
    ClientKind("smtp", "Mail composer", _lazy("lab.clients.smtp", "MailSender")),
    ClientKind("pop3", "Mailbox reader", _lazy("lab.clients.pop3", "MailReader")),
    ClientKind("ftp", "FTP client", _lazy("lab.clients.ftp", "FtpClient")),
    ClientKind("ws", "WebSocket chat client", _lazy("lab.clients.ws", "ChatClient")),
    ClientKind("dns", "DNS lookup (dig)", _lazy("lab.clients.dns", "DnsClient")),
    ClientKind("load", "Load test (many clients)", _lazy("lab.clients.load", "LoadClient")),
)


def client_kinds() -> dict[str, ClientKind]:
    """Every client kind the lab knows, by name."""
    return {k.kind: k for k in CLIENT_KINDS}
