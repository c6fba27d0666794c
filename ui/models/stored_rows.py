"""The inspector's rows that left memory: which message each row shows (compact), and
reading them back from the capture's store (lab/spill.py, lab/store_read.py).

A capture of millions of messages keeps only its newest in memory; so does the
inspector's model. Per row it keeps a message id (``RowIds``: runs of consecutive
ids are one entry, so an unsampled capture costs nothing per row) and a delta; an
older row's Message is read back from the store a block of rows at a time, and the
last few blocks are kept (``StoredRows``). The store is read through a StoreReader
made on the Qt thread (a SQLite connection belongs to the thread that made it).
"""

from __future__ import annotations

import bisect
import contextlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lab.model import Message, Sender, search_text

if TYPE_CHECKING:
    from lab.capture import Capture
    from lab.spill import MessageLog
    from lab.store_read import StoreReader

#: Rows read from the store around an asked row (one query).
BLOCK = 200
#: Rows read back and kept (the last few blocks), beyond those in memory.
CACHED_ROWS = 2000
#: Rows walked per store query (the diagram, a non-ASCII filter).
WALK = 2000


def unreadable(message_id: int) -> Message:
    """What a row reads as when its message cannot be read back."""
    return Message(id=message_id, time=0.0, connection="", protocol="", sender=Sender.CLIENT,
                   client="", server="", summary="(not kept: the capture's store lost it)",
                   size=0, raw=b"", truncated=True)


class RowIds:
    """Row → message id for any number of rows. Ids normally increase (a sampled
    view skips some): each run of consecutive ids is one entry of two arrays."""

    def __init__(self) -> None:
        self._rows = array("q")  # the first row of each run
        self._ids = array("q")  # the id of that row
        self._count = 0
        self._next = 0  # the id that would continue the last run
        self.increasing = True  # False: a caller appended ids out of order (tests)

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return (len(self._rows) + len(self._ids)) * 8

    def append(self, message_id: int) -> None:
        if message_id == self._next and self._count:
            self._count += 1
            self._next += 1
            return
        if self._count and message_id < self._next:
            self.increasing = False
        self._rows.append(self._count)
        self._ids.append(message_id)
        self._count += 1
        self._next = message_id + 1

    def __getitem__(self, row: int) -> int:
        if not 0 <= row < self._count:
            raise IndexError("row out of range")
        at = bisect.bisect_right(self._rows, row) - 1
        return self._ids[at] + row - self._rows[at]

    def row_of(self, message_id: int) -> int | None:
        """The first row showing ``message_id``, or None."""
        if not self.increasing:
            return next((row for row in range(self._count) if self[row] == message_id), None)
        at = bisect.bisect_right(self._ids, message_id) - 1
        if at < 0:
            return None
        row = self._rows[at] + message_id - self._ids[at]
        end = self._rows[at + 1] if at + 1 < len(self._rows) else self._count
        return row if row < end else None

    def rows_of(self, ids: list[int], first: int, end: int) -> list[int]:
        """The rows (in ``first``..``end - 1``) showing ``ids`` (increasing), ids that no
        row shows left out: a walk along the runs, not a search per id (a filter may
        find millions)."""
        if not self.increasing:
            rows = (self.row_of(i) for i in ids)
            return [row for row in rows if row is not None and first <= row < end]
        if not self._ids:
            return []
        if len(self._ids) == 1:  # one run: every id is a row, at a fixed offset
            shift = self._rows[0] - self._ids[0]
            low, high = first - shift, end - shift
            return [i + shift for i in ids if low <= i < high]
        found: list[int] = []
        run, runs = 0, len(self._ids)
        for i in ids:
            while run + 1 < runs and self._ids[run + 1] <= i:
                run += 1
            row = self._rows[run] + i - self._ids[run]
            stop = self._rows[run + 1] if run + 1 < runs else self._count
            if self._ids[run] <= i and row < stop and first <= row < end:
                found.append(row)
        return found

    def clear(self) -> None:
        self._rows, self._ids, self._count, self.increasing = array("q"), array("q"), 0, True
        self._next = 0


class StoredRows:
    """Rows read back from the store of the capture the model follows (see the module)."""

    def __init__(self, ids: RowIds) -> None:
        self.ids = ids
        self.capture: Capture | None = None
        self.log: MessageLog | None = None  # the capture's log the rows came from
        self._reader: StoreReader | None = None
        self._cache: OrderedDict[int, Message] = OrderedDict()

    def bind(self) -> None:
        """Rows are coming: remember the capture's log they come from (a clear makes a
        new one; the model forgets the old one in ``forget``)."""
        if self.log is None and self.capture is not None:
            self.log = self.capture.messages

    @property
    def path(self) -> Path | None:
        return None if self.log is None else self.log.path

    def committed(self) -> int:
        """The highest id the store has committed (a row may leave memory up to it)."""
        recorder = None if self.log is None else self.log.recorder
        return 0 if recorder is None else recorder.committed

    def reader(self) -> StoreReader | None:
        path = self.path
        if self._reader is not None and self._reader.path != path:
            self.close()
        if self._reader is None and path is not None:
            from lab.store_read import StoreReader

            with contextlib.suppress(Exception):
                self._reader = StoreReader(path)
        return self._reader

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                reader.close()

    def forget(self) -> None:
        """The rows are gone (a clear): no store, no cache."""
        self.close()
        self._cache.clear()
        self.log = None

    def drop(self, row: int, message: Message | None = None) -> None:
        """Row ``row`` changed (amended): keep ``message`` as it now is (the store may
        not have the change yet), or read it again when asked."""
        if message is None:
            self._cache.pop(row, None)
        else:
            self._cache[row] = message

    @property
    def cached(self) -> int:
        return len(self._cache)

    # ---- reading -------------------------------------------------------------------------

    def message(self, row: int, end: int) -> Message:
        """Row ``row``'s Message (``end``: the first row still in memory)."""
        found = self._cache.get(row)
        if found is not None:
            self._cache.move_to_end(row)
            return found
        first = max(0, row - BLOCK // 2)
        last = min(end, first + BLOCK) - 1
        for at, message in zip(range(first, last + 1), self.read(first, last + 1), strict=True):
            self._cache[at] = message
            self._cache.move_to_end(at)
        while len(self._cache) > CACHED_ROWS:
            self._cache.popitem(last=False)
        return self._cache.get(row) or unreadable(self.ids[row])

    def read(self, first: int, end: int) -> list[Message]:
        """The Messages of rows ``first``..``end - 1`` (one query when their ids are
        close; row by row when sampling left big gaps between them)."""
        if first >= end:
            return []
        ids = [self.ids[row] for row in range(first, end)]
        reader = self.reader()
        by_id: dict[int, Message] = {}
        if reader is not None:
            try:
                if ids[-1] - ids[0] <= 4 * len(ids):
                    by_id = {m.id: m for m in reader.span(ids[0], ids[-1])}
                else:
                    by_id = {i: m for i in ids if (m := reader.message(i)) is not None}
            except Exception:  # noqa: BLE001 - a damaged or vanished store: placeholders
                by_id = {}
        shown = getattr(self.log, "shown", None)  # a saved file's: cut for showing
        if shown is not None:
            by_id = {i: shown(m) for i, m in by_id.items()}
        return [by_id.get(i) or unreadable(i) for i in ids]

    def walk(self, first: int, end: int) -> Iterator[Message]:
        """Rows ``first``..``end - 1`` in order, WALK at a time, not cached."""
        while first < end:
            stop = min(end, first + WALK)
            yield from self.read(first, stop)
            first = stop

    def matching(self, needle: str, first: int, end: int) -> list[int]:
        """The rows in ``first``..``end - 1`` whose text contains ``needle`` (casefolded),
        as the filter's SearchIndex decides for rows in memory."""
        if first >= end:
            return []
        reader = self.reader()
        if reader is None:
            return []
        if not needle.isascii() and not reader.folds:  # lower() folds ASCII only
            return [row for row, m in zip(range(first, end), self.walk(first, end), strict=True)
                    if needle in search_text(m)]
        try:
            ids = reader.matching(needle, self.ids[first], self.ids[end - 1])
        except Exception:  # noqa: BLE001
            return []
        return self.ids.rows_of(ids, first, end)

    def of_connection(self, connection: str, before: int) -> list[Message]:
        """The stored messages of ``connection`` with ids below ``before``."""
        reader = self.reader()
        if reader is None:
            return []
        try:
            return reader.of_connection(connection, before)
        except Exception:  # noqa: BLE001
            return []

