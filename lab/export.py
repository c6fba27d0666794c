"""Exports of a capture: JSON Lines (the capture file itself), HAR 1.2, pcapng, .cslab.

A capture is read from its JSON Lines file (see DESIGN.md) or from a .cslab
file (told apart by SQLite's header, not by the name); ``load_capture`` imports
either as Messages and Connections. HAR is made by lab/har.py; a capture with
no HTTP request in it is an ExportError, not an empty file.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab import kinds, pcapng
from lab.capture import Capture, connection_record, message_record
from lab.har import to_har
from lab.model import Connection, Message, Sender, Transport
from lab.store import Stored, StoreError, is_sqlite, load, save

Record = dict[str, Any]
FORMATS = ("jsonl", "har", "pcapng", "cslab")

__all__ = ["FORMATS", "ExportError", "capture_records", "export", "load_capture",
           "read_capture", "records_of", "stored_from_records", "stored_records", "to_har",
           "write", "write_stored"]


class ExportError(Exception):
    """The capture cannot be read or written; the message says which and why."""


def read_capture(path: str | Path) -> Iterator[Record]:
    """The records of a JSON Lines capture, in order; a bad line is an ExportError naming it."""
    try:
        with open(path, encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ExportError(f"{path}, line {number}: not JSON ({exc.msg})") from None
                if not isinstance(record, dict) or "type" not in record:
                    raise ExportError(f"{path}, line {number}: not a capture record")
                yield record
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None


def records_of(connections: Iterable[Connection], messages: Iterable[Message]) -> list[Record]:
    """Connections and Messages as the records of a JSON Lines file, in time order."""
    records: list[Record] = []
    for conn in connections:
        records.append(connection_record("open", conn))
        if conn.closed is not None:
            records.append(connection_record("close", conn))
    records += (message_record(m) for m in messages)
    records.sort(key=lambda r: r["time"])  # stable: an open stays before its messages
    return records


def capture_records(capture: Capture) -> list[Record]:
    """A live Capture as the records its JSON Lines file would hold, in time order.
    Call it on the thread that runs the engine."""
    return records_of(list(capture.connections.values()), list(capture.messages))


def stored_records(stored: Stored) -> list[Record]:
    return records_of(stored.connections.values(), stored.messages)


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
    if is_sqlite(path):
        try:
            return load(path)
        except StoreError as exc:
            raise ExportError(str(exc)) from None
    return stored_from_records(read_capture(path))


def export(source: str | Path, fmt: str, destination: str | Path) -> int:
    """Write ``source`` (JSON Lines or .cslab) as ``fmt`` to ``destination``; returns how
    many items were written."""
    if fmt in ("jsonl", "har") and not is_sqlite(source):
        # records as they are
        return write(read_capture(source), fmt, destination, name=str(source))
    return write_stored(load_capture(source), fmt, destination, name=str(source))


def write_stored(stored: Stored, fmt: str, destination: str | Path, *,
                 name: str = "the capture") -> int:
    """Write a loaded capture as ``fmt``; returns how many items (packets for pcapng,
    messages for cslab, as ``write`` for the others). ``name`` says what the capture
    is in an error."""
    try:
        if fmt == "pcapng":
            return pcapng.write(stored.messages, stored.connections, destination)
        if fmt == "cslab":
            return save(destination, stored)
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"cannot write {destination}: {exc.strerror or exc}") from None
    return write(stored_records(stored), fmt, destination, name=name)


def write(source: Iterable[Record], fmt: str, destination: str | Path, *,
          name: str = "the capture") -> int:
    """Write capture records as ``fmt`` (jsonl or har) to ``destination``; returns how
    many items. A HAR with no entries is an ExportError (naming the capture ``name``),
    and no file is written."""
    if fmt not in ("jsonl", "har"):
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    records = list(source)
    har = to_har(records) if fmt == "har" else None
    if har is not None and not har["log"]["entries"]:
        raise ExportError(f"no HTTP messages in {name}: nothing to write as HAR")
    try:
        with open(destination, "w", encoding="utf-8") as out:
            if har is not None:
                json.dump(har, out, indent=2, ensure_ascii=False)
                return len(har["log"]["entries"])
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return len(records)
    except OSError as exc:
        raise ExportError(f"cannot write {destination}: {exc.strerror or exc}") from None
