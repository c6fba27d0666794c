"""The load client: many keep-alive clients against one server for a bounded time
(see ``lab.load``). One run at a time; ``close`` cancels it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
        """Cancel the run (if any) and wait for it to end. A run that failed does not
        fail its stop (its error was shown when it ended)."""
        if self.run is None:
            return None
        self.run.cancel()
        try:
            return await self.run.wait()
        except Exception:
            return None

    async def close(self) -> None:
        await self.stop()


# ---- actions (panels and lessons alike: see lab/clients/handle.py) ------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadView:
    """What the load panel shows: the run under way or the last one (its target, how
    many clients for how long, the samples so far, and its summary once it ended, or
    ``error`` when it could not run). ``endpoints`` are its clients' local addresses."""

    running: bool = False
    target: str = ""
    kind: str = "http"
    clients: int = 0
    seconds: float = 0.0
    samples: tuple[LoadSample, ...] = ()
    summary: LoadSummary | None = None
    endpoints: frozenset[str] = frozenset()
    error: str = ""


def _view(run: LoadRun, target: str, *, summary: LoadSummary | None = None,
          error: str = "") -> LoadView:
    return LoadView(running=run.running and summary is None and not error, target=target,
                    kind=run.kind, clients=run.clients, seconds=run.seconds,
                    samples=tuple(run.samples), summary=summary,
                    endpoints=frozenset(run.endpoints), error=error)


async def _follow(handle: ClientHandle, run: LoadRun, target: str) -> None:
    """Show the run's end (its summary, or why it failed) when it comes, unless a
    newer run has started meanwhile."""
    try:
        summary = await run.wait()
    except asyncio.CancelledError:
        return
    except Exception as exc:  # no way to the server, or the run failed: say why
        if handle.memory.get("run") is run:
            handle.show(view=_view(run, target, error=str(exc)), error=str(exc))
        return
    if handle.memory.get("run") is not run:
        return
    handle.show(view=_view(run, target, summary=summary),
                status=f"{summary.rate:.0f} requests/s on average")


async def _start(handle: ClientHandle, client: LoadClient) -> Outcome:
    """Start a run with the settings: server, kind (http or tcp), path, clients, seconds."""
    target = handle.address("server").strip()
    if not target:
        return Outcome("choose a running server first", {"ok": False, "text": ""})
    try:
        clients = int(handle.setting("clients", "10") or "10")
        seconds = float(handle.setting("seconds", "10") or "10")
    except ValueError as exc:
        return Outcome(f"not a number: {exc}", {"ok": False, "text": ""})
    holder: list[LoadRun] = []

    def sampled(_sample: LoadSample) -> None:
        if holder and handle.memory.get("run") is holder[0]:
            handle.progress(view=_view(holder[0], target))

    try:
        run = await client.start(target, kind=handle.setting("kind", "http") or "http",
                                 path=handle.setting("path", "/") or "/", clients=clients,
                                 seconds=seconds, on_sample=sampled)
    except ValueError as exc:
        return Outcome(str(exc), {"ok": False, "text": str(exc)})
    holder.append(run)
    handle.memory["run"] = run
    handle.show(view=_view(run, target))
    handle.memory["follow"] = asyncio.create_task(_follow(handle, run, target))
    return Outcome(f"{run.clients} clients for {run.seconds:g} s against {target}")


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``start`` a run (it goes on after the action returns; its progress and end are
    shown as the view, a LoadView); ``stop`` and ``close`` end the run under way."""
    client: LoadClient = handle.obj
    if verb == "start":
        return await _start(handle, client)
    if verb in ("stop", "close"):
        await client.stop()
        follow = handle.memory.get("follow")
        if isinstance(follow, asyncio.Task):
            await asyncio.wait({follow}, timeout=5.0)
        return Outcome("stopped")
    return Outcome(f"the load client cannot {verb!r}", {"ok": False, "text": ""})
