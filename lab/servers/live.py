"""A running server's live data as ServerState events, and the commands that change it.

A kind's module (named by ``ServerKind.module``) may describe its backend's live data
and act on it, with any of these three functions:

    def view(backend) -> object                         # a frozen record of the data now
    def watch(backend, changed: Callable[[], None]) -> Callable[[], None]
                                                        # call changed() after each change;
                                                        # returns the unsubscriber
    async def do(backend, verb: str, args: tuple[str, ...]) -> Outcome

``LiveFeed`` (one per server node, made by the engine) publishes
``ServerChanged(ServerState(node, kind, view, revision))`` when the server starts,
after its data changes (a burst within ``COALESCE`` seconds is one event) and, with
view None, when it stops. Everything here runs on the engine's loop.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from lab.model import Event, Outcome, ServerChanged, ServerState

log = logging.getLogger(__name__)

#: Changes closer together than this (seconds) are published as one state.
COALESCE = 0.1


def live_module(module: str) -> ModuleType | None:
    """The kind's module (imported already when its server started); None if none."""
    return importlib.import_module(module) if module else None


def failed(text: str) -> Outcome:
    """A server command that could not be carried out, saying why."""
    return Outcome(text, {"ok": False, "text": ""})


async def server_do(module: str, backend: object, verb: str, args: Sequence[str]) -> Outcome:
    """Run a kind's command ``verb`` on its running ``backend``; what it did or why not."""
    live = live_module(module)
    do = getattr(live, "do", None)
    if do is None:
        return failed(f"this server has no command {verb!r}")
    outcome: Outcome = await do(backend, verb, tuple(args))
    return outcome


class LiveFeed:
    """Publishes one server node's live data (see the module's docstring)."""

    def __init__(self, node: str, kind: str, module: str,
                 publish: Callable[[Event], None]) -> None:
        self.node = node
        self.kind = kind
        self.module = module
        self._publish = publish
        self._backend: Any = None
        self._view: Callable[[Any], object] | None = None
        self._unwatch: Callable[[], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.revision = 0
        self.state = ServerState(node=node, kind=kind)

    def start(self, backend: object) -> None:
        """Follow ``backend`` (just started) and publish its data now."""
        self.stop(publish=False)
        live = live_module(self.module)
        if live is None or not hasattr(live, "view"):
            return
        self._backend = backend
        self._view = live.view
        watch = getattr(live, "watch", None)
        if watch is not None:
            self._unwatch = watch(backend, self._changed)
        self._show()

    def stop(self, *, publish: bool = True) -> None:
        """Stop following the backend; publish a state with view None (if one was shown)."""
        unwatch, self._unwatch = self._unwatch, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if unwatch is not None:
            unwatch()
        had = self._backend is not None
        self._backend = None
        if had and publish:
            self._emit(None)

    def _changed(self) -> None:
        if self._timer is None and self._backend is not None:
            self._timer = asyncio.get_running_loop().call_later(COALESCE, self._show)

    def _show(self) -> None:
        self._timer = None
        if self._backend is None or self._view is None:
            return
        try:
            view = self._view(self._backend)
        except Exception:  # a view's bug must not stop the server
            log.exception("the live view of server %s failed", self.node)
            return
        self._emit(view)

    def _emit(self, view: object) -> None:
        self.revision += 1
        self.state = ServerState(node=self.node, kind=self.kind, view=view,
                                 revision=self.revision)
        self._publish(ServerChanged(self.state))
