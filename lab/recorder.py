"""Recording a capture into a new ``.cslab`` file as it happens (lab/store.py holds the
format): a thread of its own writes what the capture publishes, committing on a fixed
beat, so a process killed while recording loses at most ``LOSS_BOUND`` seconds of
messages; a full disk pauses it (one line) and it goes on when space returns. A
capture's own store of older messages (lab/spill.py) is one of these too.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from lab.model import Event, MessageCaptured, search_text
from lab.outage import Outage, say
from lab.store import (
    COMMIT_INTERVAL,
    MAX_BATCH,
    SEARCH_TABLE,
    event_row,
    insert_sql,
    new_file,
)


class Recorder:
    """A Capture bus subscriber that records every event into a new ``.cslab`` file.

    ``capture.subscribe(recorder)`` after making it; ``close()`` when done (it
    writes what is left and makes the file whole). The subscriber only queues the
    event: a thread does the SQLite work, waking every ``interval`` seconds on a
    fixed beat (not measured from the end of a slow commit) and committing what
    came meanwhile in transactions of at most MAX_BATCH events, several rows per
    statement: each statement lets go of the GIL, and a busy engine loop can keep
    it 5 ms each time. The engine's loop never waits for the disk.

    A full disk pauses the recording (one line on stderr) while the lab goes on:
    the messages captured meanwhile are counted and lost, not held in memory
    (connections, nodes and names are kept, latest each, and written later); the
    writer tries again every RETRY_INTERVAL (lab/outage.py), and when it can write it says how many
    were lost (one line) and keeps the count in the file's meta table
    (``lost_messages``, ``lost_note``).
    """

    def __init__(self, path: str | Path, interval: float = COMMIT_INTERVAL, *,
                 spill: bool = False, search: bool | None = None) -> None:
        self.path = Path(path)
        self.interval = interval
        #: The capture's own store (lab/spill.py), not a file the user asked for: it is
        #: not folded at the end (it is deleted), and a full disk is said in its words.
        self.spill = spill
        self.outage = (Outage("capture store", "keeping old messages",
                              "cannot keep old messages on disk", str(self.path)) if spill
                       else Outage("recording", "recording", f"cannot record to {self.path}",
                                   str(self.path)))
        #: The highest message id committed to the file so far (the writer thread sets
        #: it after each commit; a reader may then find every message up to it there,
        #: save those a full disk lost).
        self.committed = 0
        self._db = new_file(path)
        #: Whether each message's searchable text is kept too (a capture's own store,
        #: or a recording that is one: lab/spill.py ``adopt``).
        self.search = spill if search is None else search
        if self.search:  # what the window's filter searches, casefolded (store_read.py)
            self._db.execute(SEARCH_TABLE)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._per_statement = max(1, min(500, self._db.getlimit(
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 19))
        self._pending: deque[Event] = deque()  # append and popleft: thread-safe
        self._kept: dict[tuple[str, Any], tuple[Any, ...]] = {}  # rows waiting for space
        self._notes: list[str] = []
        self._closing = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cslab-recorder", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        self._pending.append(event)

    def close(self) -> None:
        """Write every queued event, then close the file (once)."""
        if not self._thread.is_alive():
            return
        self._closing = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            beat = time.monotonic()
            while True:
                closing = self._closing  # read before the last drain: nothing is left behind
                if closing:
                    self.outage.try_now()
                self._drain()
                if closing:
                    break
                beat = max(beat + self.interval, time.monotonic() - self.interval)
                self._wake.wait(max(0.0, beat - time.monotonic()))
            if self.outage.paused:
                self._write([])  # one more try: the kept rows and the count of the lost
            if self.outage.paused:
                self.outage.left(still_full=True)
            if not self.spill:
                self._fold()
        except Exception as exc:  # never a traceback from this thread
            say(f"cslab: recording to {self.path} stopped: {exc}")
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()

    def _fold(self) -> None:
        """Make the file one self-contained file again (no ``-wal`` beside it), or say
        that the two must stay together (a full disk has no room to fold them)."""
        try:
            row = self._db.execute("PRAGMA journal_mode = DELETE").fetchone()
        except sqlite3.Error:
            row = None
        if row is None or str(row[0]).lower() != "delete":
            say(f"cslab: no room to fold {self.path.name}-wal into {self.path.name}: "
                 "keep the two files together (the recording is in both)")

    def _drain(self) -> None:
        pending = self._pending
        while pending:
            batch = [pending.popleft() for _ in range(min(len(pending), MAX_BATCH))]
            if self.outage.paused:
                # Captured while the disk was full: lost. A try after the pause writes
                # only what was kept and the lost count (small, so a busy lab whose
                # beat brings megabytes still fits in the room that came back); what
                # comes after it is recorded as before.
                self._skip(batch)
                if not self.outage.waiting():
                    self._write([])
            else:
                self._write(batch)

    def _skip(self, batch: list[Event]) -> None:
        """The disk is full: count the messages as lost, keep the rest (latest each)."""
        for event in batch:
            if isinstance(event, MessageCaptured):
                self.outage.lost += 1
            elif (row := event_row(event)) is not None:
                self._kept[row[0], row[1][0]] = row[1]

    def _write(self, batch: list[Event]) -> None:
        rows = [(table, row) for (table, _), row in self._kept.items()]
        rows += filter(None, map(event_row, batch))
        if self.search:
            rows += [("search", (e.message.id, search_text(e.message))) for e in batch
                     if isinstance(e, MessageCaptured)]
        newest = max((e.message.id for e in batch if isinstance(e, MessageCaptured)),
                     default=0)
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for table, row in rows:
            tables.setdefault(table, []).append(row)
        try:
            for table, rows in tables.items():
                for at in range(0, len(rows), self._per_statement):
                    chunk = rows[at:at + self._per_statement]
                    self._db.execute(insert_sql(table, len(chunk[0]), len(chunk)),
                                     [value for row in chunk for value in row])
            if self.outage.paused:
                self._note_loss()
            self._db.commit()
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
            self._pause(exc, batch)
            return
        self.committed = max(self.committed, newest)
        if self.outage.paused:
            self._kept.clear()
            self.outage.end()

    def _note_loss(self) -> None:
        start = self.outage.since or time.time()
        span = f"{_clock(start)}-{_clock(time.time())} UTC"
        notes = [*self._notes, span]
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
            ("lost_messages", str(self.outage.lost)),
            ("lost_note", f"{self.outage.lost} messages captured while the disk was full "
                          f"({', '.join(notes)}) are not in this file")])
        self._notes = notes

    def _pause(self, exc: Exception, batch: list[Event]) -> None:
        self.outage.begin(_disk_full(exc, self.path), exc)
        self._skip(batch)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at))


def _disk_full(exc: BaseException, path: Path) -> bool:
    """Whether ``exc`` came from a full disk (SQLite says so, or the folder has no room)."""
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(path.parent).free < 64 * 1024
    except OSError:
        return False
