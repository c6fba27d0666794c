"""Sans-IO dissectors: bytes in, Pieces out. No sockets, no asyncio, no Qt here.

A dissector follows one connection in both directions. ``feed`` never raises on
bad input: what it cannot parse comes back as a Piece flagged ``malformed``.
"""

from __future__ import annotations

import importlib

from lab import kinds
from lab.dissect.base import REGISTRY, Dissector, DissectorFactory, register

#: The dissector for a protocol without its own (and a relay's default).
FALLBACK = "raw"
#: The dissector modules every kind shares; each kind names its own in lab/kinds.py.
#: All are imported by name (importing one registers it) when a dissector is asked for.
MODULES = ("lab.dissect.raw",)


def _load() -> None:
    for name in (*MODULES, *kinds.dissector_modules()):
        importlib.import_module(name)


def make(protocol: str) -> Dissector:
    """A fresh dissector for ``protocol``; the raw one for protocols without their own."""
    _load()
    return REGISTRY.get(protocol, REGISTRY[FALLBACK])()


def protocols() -> list[str]:
    """Every protocol name with a registered dissector, sorted."""
    _load()
    return sorted(REGISTRY)


__all__ = ["FALLBACK", "Dissector", "DissectorFactory", "make", "protocols", "register"]
