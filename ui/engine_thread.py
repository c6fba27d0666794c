"""The engine's own thread and loop, and how the Qt thread awaits its commands.

The Engine is plain asyncio; in the GUI it runs on a loop in a ``threading.Thread``
so that traffic never waits for painting. UI coroutines (on the qasync loop of the
Qt thread) await engine commands with ``EngineThread.call``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from lab.engine import Engine

T = TypeVar("T")

#: How long quitting waits for the engine to stop every node (seconds).
SHUTDOWN_WAIT = 10.0


class EngineThread:
    """An Engine on its own asyncio loop in a daemon thread.

    ``start()`` it, ``await call(engine.method, ...)`` from the Qt thread's loop,
    and ``stop()`` it when the app quits: that shuts the engine down (every port
    freed), stops its loop and joins the thread.
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine if engine is not None else Engine()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cslab-engine", daemon=True)
        self._stopped = False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            left = asyncio.all_tasks(self.loop)
            for task in left:
                task.cancel()
            if left:
                self.loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    def call(
        self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
    ) -> Awaitable[T]:
        """Run ``fn(*args, **kwargs)`` on the engine loop; await the result on this loop."""
        future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self.loop)
        return asyncio.wrap_future(future)

    def run(
        self,
        fn: Callable[..., Coroutine[Any, Any, T]],
        *args: Any,
        timeout: float = SHUTDOWN_WAIT,
        **kwargs: Any,
    ) -> T:
        """Run ``fn`` on the engine loop and block this thread for its result."""
        future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        """Shut the engine down (every node stopped, every port freed) and join the thread."""
        if self._stopped:
            return
        self._stopped = True
        if not self._thread.is_alive():
            return
        try:
            self.run(self.engine.shutdown)
        except Exception as exc:  # quitting must go on; say what was left behind
            print(f"cslab: engine shutdown failed: {exc!r}", file=sys.stderr)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(SHUTDOWN_WAIT)


_tasks: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run a UI coroutine on the Qt thread's loop, keeping it alive until it ends.

    An exception that escapes it goes to ``sys.excepthook`` (printed, or failed in
    tests), never to a dialog: panels catch the errors a user can act on themselves.
    """
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        sys.excepthook(type(exc), exc, exc.__traceback__)


def pending_tasks() -> set[asyncio.Task[Any]]:
    """UI coroutines still running (tests wait on these; quitting cancels them)."""
    return set(_tasks)
