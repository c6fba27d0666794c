"""Client kinds: each is one module with an async API the panels and scenarios call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientKind:
    kind: str
    title: str


def client_kinds() -> dict[str, ClientKind]:
    """Every client kind the lab knows, by name."""
    from lab.clients import echo

    return {k.kind: k for k in echo.KINDS}
