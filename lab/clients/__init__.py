"""Client kinds: each is one module with an async API and its actions.

A kind's ``make`` is built by the engine with a router (see ``Router``; the
engine's is a ``Routes``, which can also say when a datagram sent through an
outbound Wire was refused beyond it) and a callback to report each local address
it connects from (so the UI can name that end of the wire). Its module's
``act(handle, verb, args)`` performs one action (a panel's button, a lesson's
step) with the settings the engine holds, and shows the outcome as a ClientState
(lab/clients/handle.py): the only way panels and lessons drive a client.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lab import kinds
from lab.hold import Patience, as_given
from lab.model import Outcome, Transport

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

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


#: For a TCP connection from ``local`` to ``routed`` (an outbound Wire): wait until
#: the Wire knows whether it reached the real server; "" if it did, else a note
#: ("server HOST:PORT refused the connection").
UpstreamResult = Callable[[tuple[str, int], str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Routes:
    """A Router (call it as one) with ``upstream_error`` beside it, and the engine's
    ``patient``: a client's timeout, stretched while a Wire of *its* engine steps."""

    route: Router
    upstream_error: UpstreamError
    upstream_result: UpstreamResult | None = None
    patient: Patience = as_given

    def __call__(self, transport: Transport, host: str, port: int,
                 protocol: str) -> Awaitable[tuple[str, int]]:
        return self.route(transport, host, port, protocol)


def patience(route: Router) -> Patience:
    """How a client made with ``route`` stretches its timeouts: its engine's
    ``Routes.patient``; a bare router (no engine, no stepping Wire): as given."""
    return route.patient if isinstance(route, Routes) else as_given


class ClientObject(Protocol):
    async def close(self) -> object: ...


Act = Callable[["ClientHandle", str, Sequence[str]], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class ClientKind:
    """One client kind: ``module`` has the factory ``factory`` and ``act``;
    ``defaults`` are the settings a new client starts with (a view of lab/kinds.py)."""

    kind: str
    title: str
    module: str
    factory: str
    defaults: dict[str, str] = field(default_factory=dict)
    #: The module with its ``act`` (default: ``module``).
    actions: str = ""

    def make(self, route: Router, seen: Seen) -> ClientObject:
        """A new client object; the kind's module is imported on first use."""
        factory: Callable[[Router, Seen], ClientObject] = getattr(
            importlib.import_module(self.module), self.factory)
        return factory(route, seen)

    @property
    def act(self) -> Act:
        """The kind's ``act(handle, verb, args)``."""
        action: Act = importlib.import_module(self.actions or self.module).act
        return action


def client_kinds() -> dict[str, ClientKind]:
    """Every client kind the lab knows (lab/kinds.py), by name, in menu order, without
    importing their modules: a kind's module is imported when its first client is made."""
    return {row.name: ClientKind(row.name, row.client.title, row.client.module,
                                 row.client.factory.partition(":")[2],
                                 dict(row.client.defaults), row.client.actions_module)
            for row in kinds.kinds() if row.client is not None}


def __getattr__(name: str) -> tuple[ClientKind, ...]:
    if name == "CLIENT_KINDS":  # the table's view, as a tuple in menu order
        return tuple(client_kinds().values())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
