"""Sans-IO dissectors: bytes in, Pieces out. No sockets, no asyncio, no Qt here.

A dissector follows one connection in both directions. ``feed`` never raises on
bad input: what it cannot parse comes back as a Piece flagged ``malformed``.
"""

from __future__ import annotations

import importlib

from lab.dissect.base import REGISTRY, Dissector, DissectorFactory, register

#: The dissector modules, imported by name (importing one registers it) when a
#: dissector is first asked for.
MODULES = ("dns", "ftp", "ftp_data", "http", "pop3", "raw", "smtp", "websocket")


def _load() -> None:
    for name in MODULES:
        importlib.import_module(f"lab.dissect.{name}")


def make(protocol: str) -> Dissector:
    """A fresh dissector for ``protocol``; the raw one for protocols without their own."""
    _load()
    return REGISTRY.get(protocol, REGISTRY["raw"])()


def protocols() -> list[str]:
    """Every protocol name with a registered dissector, sorted."""
    _load()
    return sorted(REGISTRY)


__all__ = ["Dissector", "DissectorFactory", "make", "protocols", "register"]
