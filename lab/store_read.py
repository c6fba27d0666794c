"""Reading a ``.cslab`` store a piece at a time: one message, a range, a connection's
messages, the ids whose text contains a word. The capture reads its older messages
back so (lab/spill.py), and a viewer of millions of messages reads only what it
shows. A store still being written can be read: a reader sees what is committed.

Make one StoreReader per thread (its SQLite connection is not to be shared while in
use; another thread may close it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from lab.model import Connection, Message
from lab.store import FORMAT_VERSION, StoreError, message_from_row, message_query, open_read_only

#: Messages read per query when a caller walks many.
CHUNK = 2000

#: The text a filter looks in, as SQL over one row of ``messages``: the summary, the
#: connection as the inspector labels it (``c1 ↳ c3``), protocol, client, server and
#: sender (ui/models/filter.py looks in the same).
SEARCH_TEXT = ("lower(summary || ' ' || coalesce(parent || ' ↳ ', '') || connection || ' ' "
               "|| protocol || ' ' || client || ' ' || server || ' ' || sender)")


class StoreReader:
    """Read access to one ``.cslab`` file (see the module)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = open_read_only(path)
        try:
            version = self._db.execute(
                "SELECT value FROM meta WHERE key = 'version'").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"{path}: the capture is damaged ({exc})") from None
        self.version = int(version[0]) if version and str(version[0]).isdigit() \
            else FORMAT_VERSION
        self._select = message_query(self.version)
        #: Whether the store keeps each message's casefolded text (a capture's own
        #: store does): a filter then finds any text, not only ASCII, quickly.
        self.folds = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search'"
        ).fetchone() is not None
        self._connections: dict[str, Connection] | None = None  # version 1 only

    def close(self) -> None:
        self._db.close()

    def _old(self) -> dict[str, Connection] | None:
        """A version 1 file's connections (its messages take node and parent from them)."""
        if self.version >= 2:
            return None
        if self._connections is None:
            from lab.store import _connections

            self._connections = {c.id: c for c in _connections(self._db)}
        return self._connections

    def _rows(self, where: str, args: tuple[object, ...]) -> list[Message]:
        try:
            rows = self._db.execute(f"{self._select} {where}", args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: the capture is damaged ({exc})") from None
        old = self._old()
        try:
            return [message_from_row(row, old) for row in rows]
        except (ValueError, TypeError, KeyError, RecursionError,
                OverflowError) as exc:  # json, an unknown sender
            raise StoreError(f"{self.path}: the capture is damaged ({exc})") from None

    def last_id(self) -> int:
        """The highest message id in the store (0: none)."""
        row = self._db.execute("SELECT max(id) FROM messages").fetchone()
        return int(row[0] or 0)

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])

    def message(self, message_id: int) -> Message | None:
        found = self._rows("WHERE id = ?", (message_id,))
        return found[0] if found else None

    def span(self, first: int, last: int) -> list[Message]:
        """The messages with ids ``first``..``last`` (both included) that the store has,
        in id order."""
        return self._rows("WHERE id BETWEEN ? AND ? ORDER BY id", (first, last))

    def each(self, first: int = 1, last: int | None = None) -> Iterator[Message]:
        """Every message from id ``first`` to ``last`` (default: the last), in order,
        read CHUNK at a time (constant memory)."""
        end = self.last_id() if last is None else last
        while first <= end:
            yield from self.span(first, min(end, first + CHUNK - 1))
            first += CHUNK

    def of_connection(self, connection: str, before: int | None = None) -> list[Message]:
        """The messages of ``connection`` (with ids below ``before`` if given), in order."""
        if before is None:
            return self._rows("WHERE connection = ? ORDER BY id", (connection,))
        return self._rows("WHERE connection = ? AND id < ? ORDER BY id", (connection, before))

    def connection_messages(self, connection: str, chunk: int = 64,
                            before: int | None = None) -> Iterator[Message]:
        """The messages of ``connection`` (with ids below ``before`` if given) in order,
        read ``chunk`` at a time (nothing is held open between reads: many of these may
        be walked at once)."""
        end = (1 << 62) if before is None else before
        return self._paged("WHERE connection = ? AND id > ? AND id < ? ORDER BY id LIMIT ?",
                           lambda after: (connection, after, end, chunk), 0, chunk)

    def last_of(self, connection: str, sender: str, before: int,
                chunk: int = 64) -> Iterator[Message]:
        """The messages ``sender`` sent on ``connection`` with ids below ``before``,
        newest first, read ``chunk`` at a time."""
        return self._paged("WHERE connection = ? AND sender = ? AND id < ? "
                           "ORDER BY id DESC LIMIT ?",
                           lambda below: (connection, sender, below, chunk), before, chunk)

    def _paged(self, where: str, args: Callable[[int], tuple[object, ...]], start: int,
               chunk: int) -> Iterator[Message]:
        """The rows of a query ``chunk`` at a time, each page after the last id read."""
        mark = start
        while True:
            found = self._rows(where, args(mark))
            yield from found
            if len(found) < chunk:
                return
            mark = found[-1].id

    def unrecorded(self) -> dict[str, Message]:
        """The first message of each connection that has messages but no record."""
        rows = self._db.execute(
            "SELECT min(id) FROM messages WHERE connection NOT IN "
            "(SELECT id FROM connections) GROUP BY connection ORDER BY min(id)").fetchall()
        firsts = (self.message(int(row[0])) for row in rows)
        return {m.connection: m for m in firsts if m is not None}

    def previous_time(self, connection: str, before: int) -> float | None:
        """When the last message of ``connection`` before id ``before`` was captured."""
        row = self._db.execute(
            "SELECT time FROM messages WHERE connection = ? AND id < ? "
            "ORDER BY id DESC LIMIT 1", (connection, before)).fetchone()
        return None if row is None else float(row[0])

    def matching(self, needle: str, first: int, last: int) -> list[int]:
        """The ids from ``first`` to ``last`` whose text contains ``needle``, in order:
        casefolded (``lab.model.search_text``) if the store ``folds``, else as SEARCH_TEXT
        (lower() folds ASCII only)."""
        if self.folds:
            found = self._db.execute(
                "SELECT id FROM search WHERE id BETWEEN ? AND ? AND instr(text, ?) > 0",
                (first, last, needle.casefold()))
            return [row_id for (row_id,) in found]
        rows = self._db.execute(
            f"SELECT id FROM messages WHERE id BETWEEN ? AND ? "
            f"AND instr({SEARCH_TEXT}, ?) > 0 ORDER BY id",
            (first, last, needle.lower()))
        return [int(row[0]) for row in rows]

    def connections(self) -> dict[str, Connection]:
        """Every connection, in the order they opened."""
        from lab.store import _connections

        try:
            return {c.id: c for c in _connections(self._db)}
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"{self.path}: the capture is damaged ({exc})") from None

    def connection(self, connection_id: str) -> Connection | None:
        from lab.store import _connections

        for conn in _connections(self._db, "WHERE id = ?", (connection_id,)):
            return conn
        return None
