"""Exports of a capture: JSON Lines (the capture file itself), HAR 1.2, pcapng, .cslab.

A capture is read from its JSON Lines file (see DESIGN.md) or from a .cslab
file (told apart by SQLite's header, not by the name); ``load_capture`` imports
either as Messages and Connections. HAR pairs each HTTP response with its
request as the inspector does (lab/pairs.py: the oldest unanswered request of
its connection, which is how HTTP/1.1 orders them, pipelining included).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lab import __version__, kinds, pcapng
from lab.capture import Capture, connection_record, message_record
from lab.model import Connection, Message, Sender, Transport
from lab.pairs import Pairs
from lab.store import Stored, StoreError, is_sqlite, load, save

Record = dict[str, Any]
FORMATS = ("jsonl", "har", "pcapng", "cslab")


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


def _headers(fields: dict[str, Any]) -> list[dict[str, str]]:
    return [{"name": key.removeprefix("header: "), "value": str(value)}
            for key, value in fields.items() if key.startswith("header: ")]


def _header(fields: dict[str, Any], name: str) -> str:
    for item in _headers(fields):
        if item["name"].lower() == name.lower():
            return item["value"]
    return ""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _split_raw(record: Record) -> tuple[int, bytes]:
    """The head's size and the body bytes kept in a message's raw prefix."""
    raw = base64.b64decode(record.get("raw", ""))
    head, sep, body = raw.partition(b"\r\n\r\n")
    return (len(head) + len(sep) if sep else -1), body


def _request(record: Record) -> dict[str, Any]:
    fields = record.get("fields", {})
    target = str(fields.get("target", "/"))
    host = _header(fields, "Host") or record.get("server", "")
    url = target if "://" in target else f"http://{host}{target}"
    head_size, body = _split_raw(record)
    request: dict[str, Any] = {
        "method": str(fields.get("method", "")),
        "url": url,
        "httpVersion": str(fields.get("version", "HTTP/1.1")),
        "cookies": [],
        "headers": _headers(fields),
        "queryString": [{"name": k, "value": v}
                        for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
        "headersSize": head_size,
        "bodySize": max(0, int(record.get("size", 0)) - max(head_size, 0)),
    }
    if body:
        request["postData"] = {"mimeType": _header(fields, "Content-Type"),
                               "text": body.decode("utf-8", errors="replace")}
    return request


def _response(record: Record) -> dict[str, Any]:
    fields = record.get("fields", {})
    head_size, body = _split_raw(record)
    content: dict[str, Any] = {
        "size": max(0, int(record.get("size", 0)) - max(head_size, 0)),
        "mimeType": _header(fields, "Content-Type") or "x-unknown",
    }
    if body:
        try:
            content["text"] = body.decode("utf-8")
        except UnicodeDecodeError:
            content["text"] = base64.b64encode(body).decode("ascii")
            content["encoding"] = "base64"
    return {
        "status": int(fields.get("status", 0)),
        "statusText": str(fields.get("reason", "")),
        "httpVersion": str(fields.get("version", "HTTP/1.1")),
        "cookies": [],
        "headers": _headers(fields),
        "content": content,
        "redirectURL": _header(fields, "Location"),
        "headersSize": head_size,
        "bodySize": content["size"],
    }


def _entry(request: Record, response: Record | None) -> dict[str, Any]:
    wait = (response["time"] - request["time"]) * 1000 if response else -1
    return {
        "startedDateTime": _iso(request["time"]),
        "time": max(wait, 0),
        "request": _request(request),
        "response": _response(response) if response else {
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
            "headersSize": -1, "bodySize": -1, "_error": "no response captured"},
        "cache": {},
        "timings": {"send": 0, "wait": max(wait, 0), "receive": 0},
        "serverIPAddress": str(request.get("server", "")).rsplit(":", 1)[0].strip("[]"),
        "connection": str(request.get("connection", "")),
    }


def to_har(records: Iterable[Record]) -> dict[str, Any]:
    """HAR 1.2 for the HTTP messages among ``records`` (others are skipped; a malformed
    request makes no entry, though its answer is its own, as the inspector pairs it)."""
    pairing = Pairs()
    pairs: list[tuple[Record, Record | None]] = []
    index: dict[int, int] = {}  # request's message id → its place in pairs
    for record in records:
        answered = pairing.add_record(record)
        if record.get("type") != "message" or record.get("protocol") != "http":
            continue
        if record.get("malformed") or not record.get("fields"):
            continue
        first = next(iter(record["fields"].items()))
        if record.get("sender") == "client" and first[0] == "method":
            index[record["id"]] = len(pairs)
            pairs.append((record, None))
        elif answered is not None and answered in index:
            place = index.pop(answered)
            pairs[place] = (pairs[place][0], record)
    return {"log": {
        "version": "1.2",
        "creator": {"name": "Client-Server Lab", "version": __version__},
        "pages": [],
        "entries": [_entry(request, response) for request, response in pairs],
    }}


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
        parent=_optional(parent))


def stored_from_records(records: Iterable[Record]) -> Stored:
    """Import JSON Lines records as Messages and Connections (a message whose connection
    has no ``open`` record gets one made from the message)."""
    stored = Stored()
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
                stored.messages.append(message)
                if conn_id not in stored.connections:
                    stored.connections[conn_id] = Connection(
                        id=conn_id, protocol=message.protocol,
                        transport=kinds.transport(message.protocol),
                        client=message.client, server=message.server, opened=message.time)
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
        return write(read_capture(source), fmt, destination)  # records as they are
    return write_stored(load_capture(source), fmt, destination)


def write_stored(stored: Stored, fmt: str, destination: str | Path) -> int:
    """Write a loaded capture as ``fmt``; returns how many items (packets for pcapng,
    messages for cslab, as ``write`` for the others)."""
    try:
        if fmt == "pcapng":
            return pcapng.write(stored.messages, stored.connections, destination)
        if fmt == "cslab":
            return save(destination, stored)
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"cannot write {destination}: {exc.strerror or exc}") from None
    return write(stored_records(stored), fmt, destination)


def write(source: Iterable[Record], fmt: str, destination: str | Path) -> int:
    """Write capture records as ``fmt`` (jsonl or har) to ``destination``; returns how
    many items."""
    if fmt not in ("jsonl", "har"):
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    records = list(source)
    try:
        with open(destination, "w", encoding="utf-8") as out:
            if fmt == "har":
                har = to_har(records)
                json.dump(har, out, indent=2, ensure_ascii=False)
                return len(har["log"]["entries"])
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return len(records)
    except OSError as exc:
        raise ExportError(f"cannot write {destination}: {exc.strerror or exc}") from None
