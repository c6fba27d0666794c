"""The load client: many keep-alive clients against one server for a bounded time
(see ``lab.load``). One run at a time; ``close`` cancels it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lab.clients import Router, Seen
from lab.load import LoadRun, LoadSample, LoadSummary
from lab.model import Outcome

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle


class LoadClient:
    """Start a ``LoadRun`` on the engine's loop; its samples are on ``run.samples``."""

    def __init__(self, route: Router, seen: Seen | None = None) -> None:
        self.route = route
        self.seen = seen
        self.run: LoadRun | None = None

    async def start(self, target: str, *, kind: str = "http", path: str = "/",
                    clients: int = 10, seconds: float = 5.0,
                    on_sample: Callable[[LoadSample], None] | None = None) -> LoadRun:
        """Begin a run (cancelling one still going) and return it at once."""
        await self.stop()
        self.run = LoadRun(self.route, target, kind=kind, path=path, clients=clients,
                           seconds=seconds, on_sample=on_sample, seen=self.seen)
        self.run.start()
        return self.run

    async def wait(self) -> LoadSummary | None:
        return None if self.run is None else await self.run.wait()

    async def stop(self) -> LoadSummary | None:
        """Cancel the run (if any) and wait for it to end."""
        if self.run is None:
            return None
        self.run.cancel()
        return await self.run.wait()

    async def close(self) -> None:
        await self.stop()


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``stop`` and ``close`` end the run under way."""
    client: LoadClient = handle.obj
    if verb in ("stop", "close"):
        await client.stop()
        return Outcome("stopped")
    return Outcome(f"the load client cannot {verb!r}", {"ok": False, "text": ""})
