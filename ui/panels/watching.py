"""Following a server's backend (a mail store, a DNS zone) while the server runs.

A server panel that shows its backend's live state watches it while the server
runs and stops watching when it does not. State changes arrive at any time,
also while a sync is awaiting the engine, so a sync looks again until the
state holds still, and a change that arrives during a sync makes it look once
more before it ends; a backend not there yet is asked again shortly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lab.model import NodeInfo, NodeState
from ui.engine_thread import spawn

Stop = Callable[[], None]


class WatchesBackend:
    """Mixin for a NodePanel: call ``_init_watch`` before the panel's own
    ``__init__``, ``_follow_state`` from ``show_node``, and implement ``_watch``
    (set ``self._stop_watch``, or leave it None when the backend is not there)."""

    info: NodeInfo

    def _init_watch(self) -> None:
        self._stop_watch: Stop | None = None
        self._watch_lock = asyncio.Lock()
        self._resync = False

    def _follow_state(self) -> None:
        lock = getattr(self, "_watch_lock", None)
        if lock is None:  # the panel's own __init__ has not run yet
            return
        if (self.info.state is NodeState.RUNNING) != (self._stop_watch is not None):
            if lock.locked():
                self._resync = True  # the running sync looks again before it ends
            else:
                spawn(self.sync_watch())

    async def _watch(self) -> None:
        raise NotImplementedError

    async def sync_watch(self, *, again: bool = False) -> None:
        """Watch while the server runs, not otherwise (``again``: a new backend)."""
        async with self._watch_lock:
            if again:
                await self._unwatch()
            for _ in range(50):  # until the state holds still
                self._resync = False
                running = self.info.state is NodeState.RUNNING
                if running and self._stop_watch is None:
                    await self._watch()
                    if self._stop_watch is None:  # its backend was not there yet
                        await asyncio.sleep(0.1)
                elif not running and self._stop_watch is not None:
                    await self._unwatch()
                elif not self._resync:
                    return

    async def _unwatch(self) -> None:
        stop, self._stop_watch = self._stop_watch, None
        panel: Any = self  # a NodePanel: its stop_watch runs stop on the engine thread
        await panel.stop_watch(stop)
