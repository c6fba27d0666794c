"""What every dissector shares: the Dissector protocol and the registry it joins.

A dissector module calls ``register`` when imported; ``lab.dissect`` imports the
modules by name when a dissector is first asked for.
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

REGISTRY: dict[str, DissectorFactory] = {}


def register(protocol: str, factory: DissectorFactory) -> None:
    REGISTRY[protocol] = factory
