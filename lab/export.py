"""Exports of a capture: JSON Lines (the capture file itself) and HAR 1.2.

A capture is read as the records of its JSON Lines file (see DESIGN.md); HAR
pairs each HTTP response with the oldest unanswered request of its connection,
which is how HTTP/1.1 orders them, pipelining included.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lab import __version__
from lab.capture import Capture, connection_record, message_record
from lab.pairing import Pairer

Record = dict[str, Any]
FORMATS = ("jsonl", "har")


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
    """HAR 1.2 for the HTTP messages among ``records`` (others are skipped)."""
    pairer = Pairer()
    pairs: list[tuple[Record, Record | None]] = []
    index: dict[int, int] = {}  # request's message id → its place in pairs
    for record in records:
        if record.get("type") != "message" or record.get("protocol") != "http":
            continue
        if record.get("malformed") or not record.get("fields"):
            continue
        first = next(iter(record["fields"].items()))
        answered = pairer.add(record["id"], protocol="http", connection=record["connection"],
                              from_client=record.get("sender") == "client", first_field=first)
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


def capture_records(capture: Capture) -> list[Record]:
    """A live Capture as the records its JSON Lines file would hold, in time order.
    Call it on the thread that runs the engine."""
    records: list[Record] = []
    for conn in list(capture.connections.values()):
        records.append(connection_record("open", conn))
        if conn.closed is not None:
            records.append(connection_record("close", conn))
    records += (message_record(m) for m in list(capture.messages))
    records.sort(key=lambda r: r["time"])  # stable: an open stays before its messages
    return records


def export(source: str | Path, fmt: str, destination: str | Path) -> int:
    """Write ``source`` as ``fmt`` to ``destination``; returns how many items were written."""
    return write(read_capture(source), fmt, destination)


def write(source: Iterable[Record], fmt: str, destination: str | Path) -> int:
    """Write capture records as ``fmt`` to ``destination``; returns how many items."""
    if fmt not in FORMATS:
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
