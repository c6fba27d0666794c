"""Reading a capture file: JSON Lines (the capture file itself) or .cslab (told apart
by SQLite's header, not by the name), every record and message checked as it is read.

A file that is not a regular file (a folder, a FIFO, a device) is refused before it
is opened; a bad line or message is an ExportError naming it. ``load_capture``
imports either kind as Messages and Connections; ``load_for_viewing`` leaves a big
.cslab's messages to be read as they are shown; ``checked`` checks messages streamed
from a .cslab. The exports that write them: lab/export.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab import kinds
from lab.model import Connection, Message, Sender, Transport
from lab.store import Stored, StoreError, is_sqlite, load

Record = dict[str, Any]
#: The latest time a record may carry, in seconds since 1970 (the year 5138).
MAX_TIME = 1e11
#: The longest summary a record may carry (the lab's own are a line, at most 2,000).
MAX_SUMMARY = 1 << 20
_STRINGS = ("protocol", "client", "server", "summary", "node", "client_node", "parent")
_COUNTS = ("id", "size", "undelivered")


class ExportError(Exception):
    """The capture cannot be read or written; the message says which and why."""


def check_source(path: str | Path) -> None:
    """ExportError unless ``path`` is a regular file; a folder, a FIFO or a device is
    refused from its mode, without being opened (a FIFO would block the read)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return
    what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket"
            if stat.S_ISSOCK(mode) else "not a regular file")
    raise ExportError(f"{path} is {what}, not a capture file")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a capture holds")


def _line_record(line: bytes) -> Any:
    """One line as JSON; ValueError (with a short reason) if it is not."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("not a capture record (JSON nested too deeply)") from None


def read_capture(path: str | Path) -> Iterator[Record]:
    """The records of a JSON Lines capture, in order; a bad line is an ExportError naming
    it, and so is a file with no record at all."""
    check_source(path)
    count = 0
    try:
        with open(path, "rb") as stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    record = _line_record(line)
                except ValueError as exc:
                    raise ExportError(f"{path}, line {number}: {exc}") from None
                why = record_problem(record)
                if why:
                    raise ExportError(f"{path}, line {number}: {why}")
                count += 1
                yield record
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not count:
        raise ExportError(f"{path} holds no capture records (an empty file?)")


def _time_problem(value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return f"time {_short(value)} is not a number"
    if not math.isfinite(value) or not 0 <= value <= MAX_TIME:
        return f"time {value!r} is not a time (seconds since 1970, 0 to {MAX_TIME:g})"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}…"


def record_problem(record: Any) -> str | None:
    """What is wrong with a capture record, or None: the types and ranges its reader
    relies on (a finite time, counts 0 or more, base64 raw bytes, fields a table)."""
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        return "not a capture record (no \"type\")"
    # a missing key is the reader's to name; a value of the wrong type or range is named here
    if "connection" in record and not isinstance(record["connection"], str | int):
        return f"not a capture record (connection {_short(record['connection'])})"
    if "time" in record and (why := _time_problem(record["time"])) is not None:
        return why
    for name in _STRINGS:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} {_short(value)} is not a string"
    for name in _COUNTS:
        value = record.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):
            return f"{name} {_short(value)} is not a count (0 or more)"
    if len(record.get("summary") or "") > MAX_SUMMARY:
        return f"a summary of {len(record['summary']):,} characters (at most {MAX_SUMMARY:,})"
    if not isinstance(record.get("fields") or {}, dict):
        return f"fields {_short(record['fields'])} is not a table"
    if str(record.get("sender", "client")) not in {s.value for s in Sender}:
        return f"sender {_short(record['sender'])} is not client or server"
    if str(record.get("transport", "tcp")) not in {t.value for t in Transport}:
        return f"transport {_short(record['transport'])} is not tcp or udp"
    raw = record.get("raw", "")
    try:
        if not isinstance(raw, str):
            raise TypeError
        base64.b64decode(raw, validate=True)
    except (TypeError, ValueError):
        return "raw is not base64 text"
    return None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _message(record: Record, number: int, conn: Connection | None) -> Message:
    """A message record as a Message; where it belongs (``node``, ``parent``) from its
    connection when the record does not say (a file written before they were kept)."""
    fields = record.get("fields") or {}
    node = record.get("node", conn.node if conn is not None else None)
    parent = record.get("parent", conn.parent if conn is not None else None)
    return Message(
        id=int(record.get("id", number)), time=float(record["time"]),
        connection=str(record["connection"]), protocol=str(record.get("protocol", "raw")),
        sender=Sender(record.get("sender", "client")), client=str(record.get("client", "")),
        server=str(record.get("server", "")), summary=str(record.get("summary", "")),
        size=int(record.get("size", 0)), raw=base64.b64decode(record.get("raw", "")),
        fields=tuple((str(k), v) for k, v in fields.items()),
        truncated=bool(record.get("truncated")), malformed=bool(record.get("malformed")),
        injected=bool(record.get("injected")), held=bool(record.get("held")),
        node=_optional(node), client_node=_optional(record.get("client_node")),
        parent=_optional(parent), undelivered=int(record.get("undelivered", 0)))


def stored_from_records(records: Iterable[Record]) -> Stored:
    """Import JSON Lines records as Messages and Connections (a message whose connection
    has no ``open`` record gets one made from the message; an ``amend`` record sets a
    message's ``undelivered`` bytes, learned when its connection ended)."""
    stored = Stored()
    at: dict[int, int] = {}  # message id → its index in stored.messages
    for number, record in enumerate(records, 1):
        why = record_problem(record)
        if why:
            raise ExportError(f"record {number}: {why}")
        try:
            kind, conn_id = record["type"], str(record["connection"])
            if kind == "open":
                stored.connections[conn_id] = Connection(
                    id=conn_id, protocol=str(record["protocol"]),
                    transport=Transport(record.get("transport", "tcp")),
                    client=str(record["client"]), server=str(record["server"]),
                    opened=float(record["time"]), parent=record.get("parent"))
            elif kind == "close" and conn_id in stored.connections:
                stored.connections[conn_id] = replace(stored.connections[conn_id],
                                                      closed=float(record["time"]))
            elif kind == "message":
                message = _message(record, number, stored.connections.get(conn_id))
                at[message.id] = len(stored.messages)
                stored.messages.append(message)
                if conn_id not in stored.connections:
                    stored.connections[conn_id] = Connection(
                        id=conn_id, protocol=message.protocol,
                        transport=kinds.transport(message.protocol),
                        client=message.client, server=message.server, opened=message.time)
            elif kind == "amend" and (index := at.get(int(record["id"]))) is not None:
                stored.messages[index] = replace(
                    stored.messages[index], undelivered=int(record["undelivered"]))
        except (KeyError, ValueError, TypeError, binascii.Error) as exc:
            raise ExportError(f"record {number}: not a capture record ({exc!r})") from None
    return stored


def load_capture(path: str | Path) -> Stored:
    """A capture file, .cslab or JSON Lines, as Messages and Connections."""
    check_source(path)
    if not is_sqlite(path):
        return stored_from_records(read_capture(path))
    try:
        stored = load(path)
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    except (sqlite3.Error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # lab/store.py should say this itself (a StoreError); until it does, it is said here
        raise ExportError(f"{path} is a damaged .cslab capture ({exc})") from None
    for _ in checked(path, stored.messages):
        pass
    return stored


#: A .cslab with more messages than this is read for viewing without its messages, which
#: the viewer then reads, checks and shows a chunk at a time (ui/views/capture_file.py).
BIG_CAPTURE = 100_000


def load_for_viewing(path: str | Path) -> Stored:
    """``load_capture``, but a big .cslab (BIG_CAPTURE) without its messages, its
    tables checked: a viewer reads them as it shows them (see ``checked``)."""
    check_source(path)
    if not is_sqlite(path):
        return load_capture(path)
    from lab.store_read import StoreReader

    try:
        reader = StoreReader(path)
        try:
            big = reader.last_id() > BIG_CAPTURE
        finally:
            reader.close()
        return load(path, messages=False) if big else load_capture(path)
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    except (sqlite3.Error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ExportError(f"{path} is a damaged .cslab capture ({exc})") from None


def checked(path: str | Path, messages: Iterable[Message]) -> Iterator[Message]:
    """``messages`` of ``path``, each checked as ``load_capture`` checks them."""
    for message in messages:
        why = _time_problem(message.time) or (
            f"a summary of {len(message.summary):,} characters (at most {MAX_SUMMARY:,})"
            if len(message.summary) > MAX_SUMMARY else None)
        if why:
            raise ExportError(f"{path}, message {message.id}: {why}")
        yield message
