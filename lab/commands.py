"""Engine commands that are not the Engine's own methods, for callers on another
thread (the window's command proxy, ui/commands.py): each is a coroutine to run on
the engine's loop, so that no caller's code runs there.

    await lab.call(run_sync, engine.wire_board.set_faults, node_id, latency=200)
    count = await lab.call(save_capture, engine, endpoints, "lesson.cslab")
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # lab.export and lab.store load when a capture is saved, not at start-up
    from lab.capture import Capture
    from lab.engine import Engine

T = TypeVar("T")


async def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the engine's plain (not async) method ``fn`` on the engine's loop."""
    return fn(*args, **kwargs)


async def save_capture(engine: Engine, endpoints: dict[str, str], path: str) -> int:
    """Save the engine's capture as a ``.cslab`` file at ``path``; how many messages.
    The copy is taken on the engine's loop, the writing done in a worker thread so the
    Wires keep going."""
    from lab.store import Stored, save

    nodes = {node.id: node for node in engine.nodes()}
    snap = engine.capture.snapshot()  # the older part is read from its store, there

    def write() -> int:
        stored = Stored(connections=snap.all_connections(), nodes=nodes, endpoints=endpoints)
        return save(path, stored, snap)

    return await asyncio.to_thread(write)


async def export_capture(capture: Capture, fmt: str, path: str) -> int:
    """Write the capture to ``path`` as ``fmt`` (jsonl, pcapng, har); how many records."""
    from lab.export import write_snapshot

    snap = capture.snapshot()  # the older part is read from its store, there
    return await asyncio.to_thread(write_snapshot, snap, fmt, path)
