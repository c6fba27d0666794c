"""Sans-IO dissectors: bytes in, Pieces out. No sockets, no asyncio, no Qt here.

A dissector follows one connection in both directions. ``feed`` never raises on
bad input: what it cannot parse comes back as a Piece flagged ``malformed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lab.model import Piece, Sender


class Dissector(Protocol):
    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        """Take bytes that crossed from ``sender``; return the messages they complete."""
        ...

    def close(self, now: float) -> list[Piece]:
        """The connection ended: return any half message still buffered."""
        ...


DissectorFactory = Callable[[], Dissector]

_REGISTRY: dict[str, DissectorFactory] = {}


def register(protocol: str, factory: DissectorFactory) -> None:
    _REGISTRY[protocol] = factory


def _load() -> None:
    from lab.dissect import (  # noqa: F401  (importing registers them)
        dns,
        ftp,
        ftp_data,
        http,
        pop3,
        raw,
        smtp,
        websocket,
    )


def make(protocol: str) -> Dissector:
    """A fresh dissector for ``protocol``; the raw one for protocols without their own."""
    _load()
    return _REGISTRY.get(protocol, _REGISTRY["raw"])()


def protocols() -> list[str]:
    """Every protocol name with a registered dissector, sorted."""
    _load()
    return sorted(_REGISTRY)
