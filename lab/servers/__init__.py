"""Server kinds: each is one module that starts a real server on a hidden port.

The engine puts a Wire in front of every backend, on the port the user chose.
Adding a server kind means one module here and one row in lab/kinds.py.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from lab import kinds
from lab.model import Transport

log = logging.getLogger(__name__)


class _ClientFaults(logging.Filter):
    """Drops a server library's log records about a client's bad input or departure."""

    def __init__(self, kinds: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.kinds = kinds

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, self.kinds)


def quiet_client_faults(logger: str, *kinds: type[BaseException]) -> None:
    """Keep ``logger`` (a server library's) from printing a traceback when a client
    goes away (ConnectionError) or sends what the library rejects (``kinds``): the
    capture shows those as they are, and a hostile client must not flood the terminal."""
    logging.getLogger(logger).addFilter(_ClientFaults((ConnectionError, *kinds)))


class Backend(Protocol):
    """A running server the Wire forwards to."""

    address: tuple[str, int]

    async def close(self) -> None: ...


BackendStarter = Callable[[dict[str, str]], Awaitable[Backend]]


class Stoppable(Protocol):
    async def stop(self) -> None: ...


async def stop_backend(backend: Backend | None, wires: Iterable[Stoppable]) -> None:
    """Stop a server: its backend's goodbye, then its Wires, then the backend.

    A backend with ``say_goodbye`` (the chat's 1001 to every client) says it while
    its Wires are still up, so that it reaches the clients. Whatever the goodbye
    does (a failure is logged, a cancellation goes on up once the rest is done),
    the Wires and the backend are stopped, so no port stays bound."""
    try:
        goodbye = getattr(backend, "say_goodbye", None)
        if goodbye is not None:
            await goodbye()
    except Exception:  # a goodbye is a courtesy: stopping must not depend on it
        log.exception("a server's goodbye failed; stopping it anyway")
    finally:
        try:
            for wire in wires:
                await wire.stop()
        finally:
            if backend is not None:
                await backend.close()


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
    #: The kind's module, when it describes its live data and takes commands
    #: (``view``, ``watch``, ``do``: see lab/servers/live.py); "" if it does neither.
    module: str = ""

    @property
    def dissector(self) -> str:
        return self.protocol or self.kind


def _lazy(module: str, name: str) -> BackendStarter:
    """The starter ``name`` of ``module``, imported when a server of the kind starts."""

    async def start(options: dict[str, str]) -> Backend:
        starter: BackendStarter = getattr(importlib.import_module(module), name)
        return await starter(options)

    start.__qualname__ = f"{module}.{name}"
    return start


def _server_kind(row: kinds.Kind, side: kinds.ServerSide) -> ServerKind:
    module, _, name = side.start.partition(":")
    return ServerKind(row.name, side.title, side.transport, side.default_port,
                      _lazy(module, name), protocol=row.protocol,
                      tcp_dissector=side.tcp_dissector, module=side.live)


def server_kinds() -> dict[str, ServerKind]:
    """Every server kind the lab knows (lab/kinds.py), by its command-line name, in menu
    order. Listing them imports none of the kinds' modules (the window and ``cslab
    --help`` list the kinds at start-up, and aiohttp, aiosmtpd, websockets and dnspython
    take a while to import); a kind's module is imported when its first server starts."""
    return {row.name: _server_kind(row, row.server) for row in kinds.kinds()
            if row.server is not None}


def __getattr__(name: str) -> tuple[ServerKind, ...]:
    if name == "SERVER_KINDS":  # the table's view, as a tuple in menu order
        return tuple(server_kinds().values())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
