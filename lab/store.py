"""A capture in one SQLite file (``.cslab``): saved whole, or recorded as it happens.

The file holds the Messages (raw bytes as a BLOB, fields as JSON, every flag),
the Connections, the lab's nodes and the names of its clients' addresses, and a
``meta`` table saying what the file is (``format`` = ``cslab``, ``version``,
the lab's version, when it was made). A Recorder writes in WAL mode from a
thread of its own and commits every ``COMMIT_INTERVAL`` seconds, so a process
killed while recording loses at most the last ``LOSS_BOUND`` seconds; closed
cleanly, the file goes back to a single self-contained file (no ``-wal``). A
recording that lost messages to a full disk says so in ``meta``
(``lost_messages``, ``lost_note``).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import __version__
from lab.model import (
    Connection,
    ConnectionClosed,
    ConnectionOpened,
    EndpointNamed,
    Event,
    FieldValue,
    Message,
    MessageAmended,
    MessageCaptured,
    NodeChanged,
    NodeInfo,
    NodeState,
    Sender,
    Transport,
    search_text,
)

FORMAT = "cslab"
#: Bumped when the tables change so that an older lab cannot read the file
#: (2: messages gained ``node``, ``client_node`` and ``parent``; version 1 files still
#: read, their messages' node and parent taken from their connections; 3: messages
#: gained ``undelivered``, the bytes read but never delivered, 0 in older files).
FORMAT_VERSION = 3
#: SQLite's application_id for .cslab files: "cslb".
APPLICATION_ID = 0x63736C62
SQLITE_HEADER = b"SQLite format 3\x00"
#: The Recorder commits on this beat (seconds), whatever the size of a batch: with the
#: time a commit takes, a process killed while recording loses at most LOSS_BOUND.
COMMIT_INTERVAL = 0.2
#: What a recording killed with kill -9 loses at most (seconds of messages).
LOSS_BOUND = 0.5
#: Events per transaction at most: a backlog is committed in steps, not in one.
MAX_BATCH = 5000
#: Messages ``save`` holds at once while it writes a capture of any size.
SAVE_BATCH = 1000

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE connections (
    id TEXT PRIMARY KEY, protocol TEXT NOT NULL, transport TEXT NOT NULL,
    client TEXT NOT NULL, server TEXT NOT NULL, opened REAL NOT NULL, closed REAL,
    parent TEXT, node TEXT, note TEXT NOT NULL DEFAULT '');
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, connection TEXT NOT NULL,
    protocol TEXT NOT NULL, sender TEXT NOT NULL, client TEXT NOT NULL, server TEXT NOT NULL,
    summary TEXT NOT NULL, size INTEGER NOT NULL, raw BLOB NOT NULL, fields TEXT NOT NULL,
    truncated INTEGER NOT NULL, malformed INTEGER NOT NULL, injected INTEGER NOT NULL,
    held INTEGER NOT NULL, node TEXT, client_node TEXT, parent TEXT,
    undelivered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX messages_by_connection ON messages (connection, id);
CREATE TABLE nodes (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL,
    address TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE endpoints (address TEXT PRIMARY KEY, node TEXT NOT NULL);
"""
#: A capture's own store (lab/spill.py) also keeps each message's searchable text,
#: casefolded (``lab.model.search_text``), in a narrow table a filter scans quickly.
SEARCH_TABLE = "CREATE TABLE search (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"



@functools.lru_cache(maxsize=16)
def insert_sql(table: str, width: int, count: int = 1) -> str:
    """INSERT OR REPLACE of ``count`` rows of ``width`` values each into ``table``."""
    row = f"({','.join('?' * width)})"
    return f"INSERT OR REPLACE INTO {table} VALUES {','.join([row] * count)}"


_CONNECTION_SQL = insert_sql("connections", 10)
_MESSAGE_SQL = insert_sql("messages", 19)
_MESSAGE_COLUMNS = ("id, time, connection, protocol, sender, client, server, summary, size, "
                    "raw, fields, truncated, malformed, injected, held")
_NODE_SQL = insert_sql("nodes", 6)
_ENDPOINT_SQL = insert_sql("endpoints", 2)


class StoreError(Exception):
    """A capture file cannot be read or written; the message names it and says why."""


@dataclass(slots=True)
class Stored:
    """A capture read back: what a viewer or an export needs."""

    messages: list[Message] = field(default_factory=list)
    connections: dict[str, Connection] = field(default_factory=dict)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)  # client address → node id
    meta: dict[str, str] = field(default_factory=dict)


def is_sqlite(path: str | Path) -> bool:
    """Whether ``path`` starts with SQLite's header (a .cslab file, whatever its name)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


# ---- rows ------------------------------------------------------------------------------

def _connection_row(conn: Connection) -> tuple[Any, ...]:
    return (conn.id, conn.protocol, conn.transport.value, conn.client, conn.server,
            conn.opened, conn.closed, conn.parent, conn.node, conn.note)


def _message_row(m: Message) -> tuple[Any, ...]:
    return (m.id, m.time, m.connection, m.protocol, m.sender.value, m.client, m.server,
            m.summary, m.size, m.raw, json.dumps([list(pair) for pair in m.fields]),
            m.truncated, m.malformed, m.injected, m.held, m.node, m.client_node, m.parent,
            m.undelivered)


def _node_row(node: NodeInfo) -> tuple[Any, ...]:
    return (node.id, node.kind, node.role, node.name, node.address, node.detail)


def _fields(text: str) -> tuple[tuple[str, FieldValue], ...]:
    return tuple((str(key), value) for key, value in json.loads(text))


def _create(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("format", FORMAT), ("version", str(FORMAT_VERSION)), ("lab_version", __version__),
        ("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])
    db.commit()


def event_row(event: Event) -> tuple[str, tuple[Any, ...]] | None:
    """The table an event goes to and its row there (None: not recorded)."""
    if isinstance(event, MessageCaptured | MessageAmended):  # amended: the row again
        return "messages", _message_row(event.message)
    if isinstance(event, ConnectionOpened | ConnectionClosed):
        return "connections", _connection_row(event.connection)
    if isinstance(event, NodeChanged):
        return "nodes", _node_row(event.node)
    if isinstance(event, EndpointNamed):
        return "endpoints", (event.address, event.node_id)
    return None


def new_file(path: str | Path) -> sqlite3.Connection:
    """A new, empty capture file at ``path`` (which must not exist yet)."""
    if os.path.exists(path):
        raise StoreError(f"{path} exists already: record to a new file")
    try:
        db = sqlite3.connect(path, check_same_thread=False)
        _create(db)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write {path}: {exc}") from None
    return db


# ---- writing ---------------------------------------------------------------------------

def save(path: str | Path, stored: Stored, messages: Iterable[Message] | None = None) -> int:
    """Write a whole capture to ``path`` (replacing it, atomically); returns the messages
    written. ``messages``, if given, are written instead of ``stored.messages`` (a
    capture's snapshot, walked from its store: lab/spill.py)."""
    count = 0
    temporary = Path(f"{path}.part")
    temporary.unlink(missing_ok=True)
    db = new_file(temporary)
    try:
        with closing(db):
            db.execute(SEARCH_TABLE)  # a viewer's filter reads it (lab/store_read.py)
            db.executemany(_CONNECTION_SQL, map(_connection_row, stored.connections.values()))
            every = iter(stored.messages if messages is None else messages)
            while batch := list(itertools.islice(every, SAVE_BATCH)):  # constant memory
                db.executemany(_MESSAGE_SQL, map(_message_row, batch))
                db.executemany("INSERT OR REPLACE INTO search VALUES (?, ?)",
                               [(m.id, search_text(m)) for m in batch])
                count += len(batch)
            db.executemany(_NODE_SQL, map(_node_row, stored.nodes.values()))
            db.executemany(_ENDPOINT_SQL, stored.endpoints.items())
            db.commit()
        os.replace(temporary, path)
    except (sqlite3.Error, OSError) as exc:
        temporary.unlink(missing_ok=True)
        raise StoreError(f"cannot write {path}: {exc}") from None
    except BaseException:  # a message that failed its check, an interrupt
        temporary.unlink(missing_ok=True)
        raise
    return count


# ---- reading ---------------------------------------------------------------------------

def open_read_only(path: str | Path) -> sqlite3.Connection:
    if not os.path.exists(path):
        raise StoreError(f"cannot read {path}: no such file")
    if not is_sqlite(path):
        raise StoreError(f"{path} is not a .cslab capture (not an SQLite file)")
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                             check_same_thread=False)  # (closed from any thread)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error:
        raise StoreError(f"{path} is an SQLite file but not a .cslab capture "
                         "(it has no cslab meta table)") from None
    if meta.get("format") != FORMAT:
        db.close()
        raise StoreError(f"{path} is an SQLite file but not a .cslab capture")
    version = meta.get("version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        db.close()
        raise StoreError(f"{path} is a .cslab capture of format version {version}, newer than "
                         f"this lab reads ({FORMAT_VERSION}): update Client-Server Lab")
    return db


def message_query(version: int) -> str:
    """The SELECT of every message column (as ``message_from_row`` reads them) for a file
    of format ``version``; add WHERE / ORDER BY to it."""
    kept = ", node, client_node, parent" if version >= 2 else ", NULL, NULL, NULL"
    kept += ", undelivered" if version >= 3 else ", 0"
    return f"SELECT {_MESSAGE_COLUMNS}{kept} FROM messages"


def message_from_row(row: tuple[Any, ...],
                     connections: dict[str, Connection] | None = None) -> Message:
    """A Message from a row of ``message_query``; a version 1 file did not keep where a
    message belongs: its node and parent come from its connection in ``connections``."""
    (id_, time_, connection, protocol, sender, client, server, summary, size, raw,
     fields, truncated, malformed, injected, held, node, client_node, parent,
     undelivered) = row
    if connections is not None and (conn := connections.get(connection)) is not None:
        node, parent = conn.node, conn.parent
    return Message(id=id_, time=time_, connection=connection, protocol=protocol,
                   sender=Sender(sender), client=client, server=server, summary=summary,
                   size=size, raw=bytes(raw), fields=_fields(fields),
                   truncated=bool(truncated), malformed=bool(malformed),
                   injected=bool(injected), held=bool(held),
                   node=node, client_node=client_node, parent=parent,
                   undelivered=int(undelivered))


def _messages(db: sqlite3.Connection, connections: dict[str, Connection],
              version: int) -> Iterator[Message]:
    """The messages, each knowing where it belongs as the capture knew it."""
    old = connections if version < 2 else None
    for row in db.execute(message_query(version) + " ORDER BY id"):
        yield message_from_row(row, old)


def _connections(db: sqlite3.Connection, where: str = "",
                 args: tuple[object, ...] = ()) -> Iterable[Connection]:
    for row in db.execute(f"SELECT * FROM connections {where} ORDER BY opened, rowid", args):
        id_, protocol, transport, client, server, opened, closed, parent, node, note = row
        yield Connection(id=id_, protocol=protocol, transport=Transport(transport),
                         client=client, server=server, opened=opened, closed=closed,
                         parent=parent, node=node, note=note)


def load(path: str | Path, messages: bool = True) -> Stored:
    """Read a ``.cslab`` file (read-only; one still being recorded too); without its
    messages if ``messages`` is False (a caller that streams them: lab/store_read.py).

    Raises StoreError for a missing file, a file that is not a capture, or a
    format newer than this lab reads.
    """
    db = open_read_only(path)
    try:
        with closing(db):
            stored = Stored(meta=dict(db.execute("SELECT key, value FROM meta").fetchall()))
            stored.connections = {c.id: c for c in _connections(db)}
            version = int(stored.meta.get("version", FORMAT_VERSION))
            if messages:
                stored.messages = list(_messages(db, stored.connections, version))
            for id_, kind, role, name, address, detail in db.execute("SELECT * FROM nodes"):
                stored.nodes[id_] = NodeInfo(id=id_, kind=kind, role=role, name=name,
                                             state=NodeState.STOPPED, address=address,
                                             detail=detail)
            stored.endpoints = dict(db.execute("SELECT address, node FROM endpoints"))
    except (sqlite3.Error, ValueError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: the capture is damaged ({exc})") from None
    return stored
