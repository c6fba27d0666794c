"""The capture's messages: the newest in memory, all of them on disk.

A lab runs all day: a capture of millions of messages must not live in memory,
nor make Python's garbage collector walk it. ``MessageLog`` is the Capture's list
of Messages (place ``i`` holds id ``i + 1``). Until it holds WINDOW messages it is
a plain list. Past that it *spills*: a Recorder (lab/store.py) writes every event of
the capture, from then on and all it held before, to a ``.cslab`` store in
``paths.spill_dir()`` (``capture-PID-N.cslab``), and the log keeps in memory only
the newest WINDOW messages and those not yet committed. An older message is read
back from the store when asked for (a StoreReader per thread); one a full disk kept
out of the store comes back as a placeholder that says so. A capture that cannot
write its store at all keeps HARD_LIMIT more messages in memory, then lets the
oldest go (they come back as placeholders too).

The store is deleted when the log is cleared or closed; stores left by a process
that was killed are deleted by the next lab that spills.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, overload

from lab.model import Connection, Event, Message, Sender
from lab.outage import say

if TYPE_CHECKING:  # sqlite3 is imported when the capture first spills, not at start-up
    from lab.recorder import Recorder
    from lab.store_read import StoreReader

#: Messages a capture keeps in memory (beyond those its store has not committed yet):
#: few enough that a full garbage collection over them stays short (5,000: ~11 ms under
#: load; 20,000 took ~30 ms), enough for what reads the newest (a Wire's slices, the
#: bytes a closing connection never delivered).
WINDOW = 5_000
#: Messages kept beyond WINDOW while the store cannot take them; older ones are let go.
HARD_LIMIT = 200_000
#: Messages read from the store per query while walking the log.
CHUNK = 2000
#: How long after a store could not begin (a folder or disk that would not have it) to
#: try again (seconds).
SPILL_RETRY = 10.0
#: Compact the in-memory list once this many let-go places lead it.
COMPACT_AT = 4096

_numbers = itertools.count(1)
_STORE_NAME = re.compile(r"capture-(\d+)-\d+\.cslab(-wal|-shm|-journal)?$")


def lost_message(message_id: int) -> Message:
    """What a message the store does not have reads as."""
    return Message(id=message_id, time=0.0, connection="", protocol="", sender=Sender.CLIENT,
                   client="", server="", summary="(not kept: the disk was full)", size=0,
                   raw=b"", truncated=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path) -> None:
    """Delete stores of processes that are gone (killed: they could not clean up)."""
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            match = _STORE_NAME.match(entry.name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                entry.unlink(missing_ok=True)


class MessageLog(Sequence[Message]):
    """A Capture's Messages, by place (see the module).

    ``backlog`` gives what the store must hold besides the messages when spilling
    begins (the capture's connections and names, as events). Only the engine's
    thread appends and indexes it (a compaction moves places under another thread's
    feet); another thread reads a ``snapshot()`` taken on the engine's thread, or the
    store by ``path`` (as the window does).
    """

    def __init__(self, backlog: Callable[[], Iterable[Event]] = tuple, *,
                 window: int = WINDOW, folder: Callable[[], Path] | None = None) -> None:
        self._backlog = backlog
        self.window = window
        self._folder = folder
        self._items: list[Message] = []
        self._base = 0  # the place of _items[0]
        self._cut = 0  # _items before this are let go (compacted away now and then)
        self.recorder: Recorder | None = None
        self._own = True  # the store is the log's own (deleted at the end), not adopted
        self._readers = threading.local()
        self._readers_made: list[StoreReader] = []
        self.dropped = 0  # let go before the store had them (a disk that would not take them)
        self._retry_at = 0.0  # when to try again to begin a store that could not begin
        self._said = False

    # ---- what a reader sees ------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The store, once spilling began."""
        recorder = self.recorder  # (read once: the engine's thread may clear it)
        return None if recorder is None else recorder.path

    @property
    def first_kept(self) -> int:
        """The place of the oldest message held in memory."""
        return self._base + self._cut

    def __len__(self) -> int:
        return self._base + len(self._items)

    @overload
    def __getitem__(self, index: int) -> Message: ...

    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...

    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[at] for at in range(start, stop, step)]
            return list(self._walk(start, stop))
        size = len(self)
        place = index + size if index < 0 else index
        if not 0 <= place < size:
            raise IndexError("message place out of range")
        if place >= self.first_kept:
            return self._items[place - self._base]
        reader = self._reader()
        found = None if reader is None else reader.message(place + 1)
        return found if found is not None else lost_message(place + 1)

    def __iter__(self) -> Iterator[Message]:
        return self._walk(0, len(self))

    def __eq__(self, other: object) -> bool:
        """Equal to a list (or log) of the same messages, as the list it stands for was."""
        if isinstance(other, MessageLog | list | tuple):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a list: not hashable

    def _walk(self, start: int, stop: int) -> Iterator[Message]:
        place = start
        while place < stop:
            kept = self.first_kept
            if place >= kept:
                yield self._items[place - self._base]
                place += 1
                continue
            last = min(stop, kept, place + CHUNK)  # places place..last-1: ids place+1..last
            reader = self._reader()
            by_id = {} if reader is None else {m.id: m for m in reader.span(place + 1, last)}
            for message_id in range(place + 1, last + 1):
                yield by_id.get(message_id) or lost_message(message_id)
            place = last

    def of_connection(self, connection: str) -> list[Message]:
        """The messages of one connection, in order (the store's index, not a walk)."""
        kept, reader = self.first_kept, self._reader()
        older = reader.of_connection(connection, kept + 1) if kept and reader else []
        return older + [m for m in self._items[self._cut:] if m.connection == connection]

    def snapshot(self) -> Snapshot:
        """The messages as they are now, to walk on another thread (a save, an export)
        while the capture goes on: the store's part is read there, in chunks."""
        return Snapshot(self.path, self.first_kept, self._items[self._cut:])

    def reader(self) -> StoreReader | None:
        """This thread's reader of the store (None before spilling began, or when the
        store cannot be read)."""
        return self._reader()

    def _reader(self) -> StoreReader | None:
        recorder = self.recorder  # (read once: the engine's thread may clear it)
        if recorder is None:
            return None
        reader: StoreReader | None = getattr(self._readers, "reader", None)
        if reader is None or reader.path != recorder.path:
            from lab.store import StoreError
            from lab.store_read import StoreReader

            try:
                reader = StoreReader(recorder.path)
            except StoreError:
                return None
            self._readers.reader = reader
            self._readers_made.append(reader)
        return reader

    # ---- what the capture does -----------------------------------------------------------

    def append(self, message: Message) -> None:
        self._items.append(message)
        if len(self._items) - self._cut <= self.window:
            return
        if self.recorder is None and time.monotonic() >= self._retry_at:
            self._spill()
        self._let_go()

    def keep_on_disk(self) -> None:
        """Begin spilling now, whatever the count (a capture with many connections and
        few messages: its closed connections go to the store too)."""
        if self.recorder is None and time.monotonic() >= self._retry_at:
            self._spill()

    def __setitem__(self, place: int, message: Message) -> None:
        """A message learned more (bytes never delivered). One no longer in memory is
        changed in the store by the MessageAmended the capture publishes."""
        if place >= self.first_kept:
            self._items[place - self._base] = message

    def record(self, event: Event) -> None:
        """Every event of the capture goes to the store once spilling began."""
        if self.recorder is not None:
            self.recorder(event)

    def adopt(self, recorder: Recorder) -> bool:
        """Use a recording the user asked for as the store, from now on and for all the
        log holds (``cslab serve --record``: one file written, not two); whether it
        could (not once spilling began). ``let_go`` hands it back before it is closed."""
        if self.recorder is not None:
            return False
        self._start(recorder)
        self._own = False
        return True

    def let_go(self, recorder: Recorder) -> None:
        """Stop using an adopted recording (it is about to close): what it alone held
        is no longer readable here, so the log keeps only what it has in memory."""
        if self.recorder is recorder:
            self._drop_readers()
            self.recorder, self._own = None, True
            cut, self._cut = self._cut, 0
            self._items, self._base = self._items[cut:], self._base + cut

    def clear(self) -> None:
        """Forget every message; the store (if any) is closed and deleted."""
        self.close()
        self._items, self._base, self._cut, self.dropped = [], 0, 0, 0

    def close(self) -> None:
        """Close and delete the store (the process is ending, or the capture clears)."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        self._drop_readers()
        if not self._own:  # the user's recording: its owner closes it
            self._own = True
            return
        recorder.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{recorder.path}{suffix}").unlink(missing_ok=True)

    def _drop_readers(self) -> None:
        for reader in self._readers_made:
            with contextlib.suppress(Exception):
                reader.close()
        self._readers_made = []
        self._readers = threading.local()

    # ---- spilling ---------------------------------------------------------------------------

    def _spill(self) -> None:
        """Begin the store; if the folder or the disk will not have it, say so once and
        try again later (meanwhile HARD_LIMIT more messages stay in memory)."""
        from lab.recorder import Recorder
        from lab.store import StoreError

        try:
            folder = self._folder() if self._folder is not None else _default_folder()
            remove_stale(folder)
            path = folder / f"capture-{os.getpid()}-{next(_numbers)}.cslab"
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            recorder = Recorder(path, spill=True)
        except (OSError, StoreError) as exc:
            self._retry_at = time.monotonic() + SPILL_RETRY
            if not self._said:
                self._said = True
                say(f"cslab: cannot keep old messages on disk ({exc}); the newest "
                    f"{self.window + HARD_LIMIT:,} stay in memory, older ones are let go")
            return
        self._start(recorder)

    def _start(self, recorder: Recorder) -> None:
        """Write what the store must hold so far into ``recorder``, and use it."""
        from lab.model import MessageCaptured

        for event in self._backlog():
            recorder(event)
        for message in self._items[self._cut:]:
            recorder(MessageCaptured(message))
        self.recorder = recorder

    def _let_go(self) -> None:
        """Let the oldest messages go from memory: those the store has committed, beyond
        the newest ``window``; beyond HARD_LIMIT more, any (the store fell behind)."""
        committed = self.recorder.committed if self.recorder is not None else 0
        items, cut = self._items, self._cut
        live = len(items) - cut
        while live > self.window:
            if items[cut].id > committed:
                if live <= self.window + HARD_LIMIT:
                    break
                self.dropped += 1
            cut += 1
            live -= 1
        self._cut = cut
        if cut >= COMPACT_AT and cut * 2 >= len(items):
            del items[:cut]
            self._base += cut
            self._cut = 0


class Snapshot(Sequence[Message]):
    """A MessageLog's messages at one moment (see ``MessageLog.snapshot``): the first
    ``stored`` places from the store at ``path`` (a message a full disk kept out of it
    is left out), then ``kept``. Any thread may walk it, once at a time."""

    def __init__(self, path: Path | None, stored: int, kept: list[Message],
                 connections: dict[str, Connection] | None = None) -> None:
        self.path, self.stored, self.kept = path, stored, kept
        #: The connections the capture held in memory then (the store has the others).
        self.recent = connections or {}

    def all_connections(self) -> dict[str, Connection]:
        """Every connection: the store's (read on the calling thread), then ``recent``."""
        every: dict[str, Connection] = {}
        if self.path is not None:
            from lab.store import StoreError
            from lab.store_read import StoreReader

            with contextlib.suppress(StoreError):
                reader = StoreReader(self.path)
                try:
                    every = reader.connections()
                finally:
                    reader.close()
        every.update(self.recent)
        return every

    def stored_part(self) -> StoreReader | None:
        """A reader of the store for the calling thread (the caller closes it)."""
        if self.path is None or not self.stored:
            return None
        from lab.store_read import StoreReader

        return StoreReader(self.path)

    def __len__(self) -> int:
        return self.stored + len(self.kept)

    @overload
    def __getitem__(self, index: int) -> Message: ...

    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...

    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        return list(self)[index]  # walks the store: for small ones (tests) only

    def __iter__(self) -> Iterator[Message]:
        if self.path is not None and self.stored:
            from lab.store_read import StoreReader

            reader = StoreReader(self.path)
            try:
                yield from reader.each(1, self.stored)
            finally:
                reader.close()
        yield from self.kept


def _default_folder() -> Path:
    from lab.paths import spill_dir

    return spill_dir()

