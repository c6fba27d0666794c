"""What the command line writes: a line per message, the capture and record files.

Shared by ``cslab serve``/``relay`` (lab/cli.py) and ``cslab run`` (lab/scenario_cli.py).
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO

from lab.capture import Capture
from lab.capture_lines import JsonLinesWriter
from lab.model import ConnectionClosed, Event, Message, MessageCaptured

#: How long ``cslab run`` lets a whole run take unless --timeout says (seconds).
RUN_TIMEOUT = 300.0


def freeze_start_up() -> None:
    """The lab is up: move what start-up made (modules, servers) out of the garbage
    collector's reach, so a full collection during a long run walks only what came
    since (the capture's newest messages, open connections): shorter pauses of the
    engine's loop. What is frozen is still freed when nothing refers to it."""
    gc.collect()
    gc.freeze()


def message_line(message: Message) -> str:
    """How ``serve`` and ``relay`` print a message: one line a person can read."""
    clock = time.strftime("%H:%M:%S", time.localtime(message.time))
    millis = int(message.time * 1000) % 1000
    flags = "".join(f" [{flag}]" for flag in ("malformed", "truncated", "injected", "held")
                    if getattr(message, flag))
    return (f"#{message.id} {clock}.{millis:03d} {message.connection} "
            f"{message.source} → {message.destination} {message.protocol} "
            f"{message.summary}{flags}")


def printer(out: IO[str]) -> Callable[[Event], None]:
    def show(event: Event) -> None:
        if isinstance(event, MessageCaptured):
            print(message_line(event.message), file=out, flush=True)
        elif isinstance(event, ConnectionClosed) and event.connection.note:
            print(f"{event.connection.id}: {event.connection.note}", file=sys.stderr, flush=True)

    return show


@contextlib.contextmanager
def capture_file(capture: Capture, path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    try:
        stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise SystemExit(f"cslab: cannot write capture {path}: {exc.strerror or exc}") from None
    writer = JsonLinesWriter(stream)
    unsubscribe = capture.subscribe(writer)
    try:
        yield
    finally:
        unsubscribe()
        writer.close()  # says what a full disk kept out, if it still does
        stream.close()


@contextlib.contextmanager
def record_file(capture: Capture, path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    from lab.recorder import Recorder  # sqlite3: only when recording
    from lab.store import StoreError

    try:
        recorder = Recorder(path, search=True)
    except StoreError as exc:
        raise SystemExit(f"cslab: {exc}") from None
    # the recording is the capture's store too (one file written, not two)
    adopted = capture.messages.adopt(recorder)
    unsubscribe = None if adopted else capture.subscribe(recorder)
    try:
        yield
    finally:
        if unsubscribe is not None:
            unsubscribe()
        capture.messages.let_go(recorder)
        recorder.close()
