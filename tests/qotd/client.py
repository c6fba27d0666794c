"""The qotd client: asks for a quote, one connection per question."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.clients import Router, Seen
from lab.model import Outcome, Transport, format_address, parse_address

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle


@dataclass(frozen=True, slots=True)
class QuoteView:
    """What the qotd panel shows: the last quote and its code."""

    code: int = 0
    quote: str = ""


class QuoteClient:
    def __init__(self, route: Router, seen: Seen) -> None:
        self._route = route
        self._seen = seen

    async def ask(self, server: str, number: str = "") -> str:
        host, port = parse_address(server)
        routed = await self._route(Transport.TCP, host, port, "qotd")
        reader, writer = await asyncio.open_connection(*routed)
        self._seen(format_address(*writer.get_extra_info("sockname")[:2]))
        try:
            writer.write(f"QUOTE {number}".strip().encode() + b"\r\n")
            await writer.drain()
            return (await reader.readline()).decode("utf-8", "replace").strip()
        finally:
            writer.close()
            await writer.wait_closed()

    async def close(self) -> None:
        return None


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``quote [N]``; ``close``. Settings: server."""
    client: QuoteClient = handle.obj
    if verb == "close":
        return Outcome("closed")
    if verb != "quote":
        return Outcome(f"the qotd client cannot {verb!r}", {"ok": False})
    try:
        line = await client.ask(handle.address("server"), " ".join(args))
    except (OSError, ValueError) as exc:
        return Outcome(str(exc), {"ok": False, "text": str(exc)})
    code, _, quote = line.partition(" ")
    handle.show(view=QuoteView(int(code) if code.isdigit() else 0, quote))
    return Outcome(line, {"ok": code == "200", "status": int(code) if code.isdigit() else 0,
                          "text": quote})
