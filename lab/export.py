"""Exports of a capture: JSON Lines (the capture file itself), HAR 1.2, pcapng, .cslab.

A capture is read (and checked) by lab/capture_read.py. HAR is made by lab/har.py;
a capture with no HTTP request in it is an ExportError, not an empty file. JSON
Lines, pcapng and .cslab stream from a .cslab or a live capture's store: memory does
not grow with the capture. Every export is written to a temporary file beside the
destination and renamed over it, so a failed or interrupted one leaves the
destination as it was.
"""

from __future__ import annotations

import binascii
import contextlib
import heapq
import json
import os
import secrets
import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lab import pcapng
from lab.capture import Capture
from lab.capture_lines import connection_record, message_record
from lab.capture_read import (
    BIG_CAPTURE,
    MAX_SUMMARY,
    MAX_TIME,
    ExportError,
    Record,
    check_source,
    checked,
    load_capture,
    load_for_viewing,
    read_capture,
    record_problem,
    stored_from_records,
)
from lab.har import to_har
from lab.model import Connection, Message
from lab.spill import Snapshot
from lab.store import Stored, StoreError, is_sqlite, load, save

if TYPE_CHECKING:
    from lab.store_read import StoreReader
FORMATS = ("jsonl", "har", "pcapng", "cslab")
#: A live capture of more messages than this is exported to JSON Lines as a stream
#: (merged by time) rather than sorted whole in memory.
STREAM_ABOVE = 20_000

__all__ = ["BIG_CAPTURE", "FORMATS", "MAX_SUMMARY", "MAX_TIME", "ExportError",
           "capture_records", "check_source", "checked", "export", "load_capture",
           "load_for_viewing", "read_capture", "record_problem", "records_of",
           "replace_file", "stored_from_records", "stored_records", "to_har", "write",
           "write_stored"]


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


def stream_records(connections: Iterable[Connection],
                   messages: Iterable[Message]) -> Iterator[Record]:
    """``records_of`` for a capture too big to hold: the connections' records merged by
    time with the messages' as they come (in capture order, which is time order)."""
    return heapq.merge(records_of(connections, ()), map(message_record, messages),
                       key=lambda record: float(record["time"]))


def write_snapshot(snap: Snapshot, fmt: str, destination: str | Path) -> int:
    """Write a live capture (a snapshot of it: lab/spill.py) as ``fmt``, on a worker
    thread; JSON Lines, pcapng and .cslab stream (memory does not grow with the
    capture), HAR is built whole."""
    connections = snap.all_connections()
    if fmt == "cslab":
        try:
            return replace_file(destination, lambda part: save(
                part, Stored(connections=connections), snap))
        except StoreError as exc:
            raise ExportError(str(exc)) from None
    if fmt == "jsonl" and len(snap) > STREAM_ABOVE:
        return write(stream_records(connections.values(), snap), fmt, destination)
    reader = snap.stored_part() if fmt == "pcapng" else None
    if reader is None:
        if fmt == "pcapng":
            return write_stored(Stored(messages=list(snap), connections=connections),
                                fmt, destination)
        return write(records_of(connections.values(), snap), fmt, destination)
    try:  # pcapng of a capture that spilled: each connection's messages as they are due
        def of(conn_id: str) -> Iterator[Message]:
            yield from reader.connection_messages(conn_id, before=snap.stored + 1)
            yield from (m for m in snap.kept if m.connection == conn_id)

        made = pcapng.stream(list(connections.values()), of)
        return replace_file(destination, lambda part: pcapng.write_packets(made, part))
    finally:
        reader.close()


def capture_records(capture: Capture) -> list[Record]:
    """A live Capture as the records its JSON Lines file would hold, in time order.
    Call it on the thread that runs the engine."""
    return records_of(list(capture.connections.values()), list(capture.messages))


def stored_records(stored: Stored) -> list[Record]:
    return records_of(stored.connections.values(), stored.messages)


def export(source: str | Path, fmt: str, destination: str | Path) -> int:
    """Write ``source`` (JSON Lines or .cslab) as ``fmt`` to ``destination``; returns how
    many items were written."""
    check_source(source)
    if fmt in ("jsonl", "har") and not is_sqlite(source):
        # records as they are
        return write(read_capture(source), fmt, destination, name=str(source))
    if fmt == "jsonl":  # a .cslab of any size streams: constant memory
        return _export_stored_lines(source, destination)
    if fmt == "pcapng" and is_sqlite(source):  # memory for what overlaps in time
        return _export_stored_packets(source, destination)
    if fmt == "cslab" and is_sqlite(source):  # a copy in the current format, streamed
        return _copy_stored(source, destination)
    return write_stored(load_capture(source), fmt, destination, name=str(source))


@contextlib.contextmanager
def _reading(source: str | Path) -> Iterator[StoreReader]:
    """A reader of the .cslab ``source`` while a block streams it somewhere; whatever is
    wrong with the file is one ExportError, and the reader is closed."""
    from lab.store_read import StoreReader

    try:
        reader = StoreReader(source)
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    try:
        yield reader
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    except (sqlite3.Error, ValueError, TypeError, OverflowError, RecursionError,
            struct.error) as exc:
        raise ExportError(f"{source} is a damaged .cslab capture ({exc})") from None
    finally:
        reader.close()


def _export_stored_lines(source: str | Path, destination: str | Path) -> int:
    """A .cslab file as JSON Lines, read and written a chunk at a time."""
    with _reading(source) as reader:
        connections = reader.connections()
        return write(stream_records(connections.values(), checked(source, reader.each())),
                     "jsonl", destination, name=str(source))


def _export_stored_packets(source: str | Path, destination: str | Path) -> int:
    """A .cslab file as pcapng, each connection's messages read as its packets are due."""
    with _reading(source) as reader:
        connections = list(reader.connections().values())
        connections += [pcapng.unrecorded(conn_id, first)
                        for conn_id, first in reader.unrecorded().items()]
        made = pcapng.stream(connections, lambda conn_id: checked(
            source, reader.connection_messages(conn_id)))
        return replace_file(destination, lambda part: pcapng.write_packets(made, part))


def _copy_stored(source: str | Path, destination: str | Path) -> int:
    """A .cslab file written again in this lab's format, a chunk of messages at a time."""
    with _reading(source) as reader:
        whole = load(source, messages=False)
        messages = checked(source, reader.each())
        return replace_file(destination, lambda part: save(part, whole, messages))


def replace_file(destination: str | Path, write_to: Callable[[Path], int]) -> int:
    """Run ``write_to`` on a new temporary file beside ``destination`` and rename it over
    ``destination``; on any failure (a full disk, an interrupt) the temporary file is
    removed and ``destination`` is as it was. OSError is an ExportError."""
    target = Path(destination)
    if target.is_dir() or (target.exists() and not target.is_file()):
        raise ExportError(f"cannot write {target}: it is not a regular file")
    part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        count = write_to(part)
        os.replace(part, target)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    except StoreError as exc:  # it names the file it wrote: the temporary one
        part.unlink(missing_ok=True)
        raise ExportError(str(exc).replace(str(part), str(target))) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return count


def write_stored(stored: Stored, fmt: str, destination: str | Path, *,
                 name: str = "the capture") -> int:
    """Write a loaded capture as ``fmt``; returns how many items (packets for pcapng,
    messages for cslab, as ``write`` for the others). ``name`` says what the capture
    is in an error."""
    try:
        if fmt == "pcapng":
            return replace_file(destination, lambda part: pcapng.write(
                stored.messages, stored.connections, part))
        if fmt == "cslab":
            return replace_file(destination, lambda part: save(part, stored))
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    except (struct.error, OverflowError, ValueError) as exc:
        raise ExportError(f"{name}: cannot be written as {fmt} ({exc})") from None
    return write(stored_records(stored), fmt, destination, name=name)


def write(source: Iterable[Record], fmt: str, destination: str | Path, *,
          name: str = "the capture") -> int:
    """Write capture records as ``fmt`` (jsonl or har) to ``destination``; returns how
    many items. A HAR with no entries is an ExportError (naming the capture ``name``),
    and no file is written."""
    if fmt not in ("jsonl", "har"):
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "jsonl":
        return replace_file(destination, lambda part: _write_lines(source, part))
    try:
        har = to_har(list(source))
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise ExportError(f"{name}: cannot be written as HAR ({exc!r})") from None
    if not har["log"]["entries"]:
        raise ExportError(f"no HTTP messages in {name}: nothing to write as HAR")

    def write_to(part: Path) -> int:
        with open(part, "w", encoding="utf-8") as out:
            json.dump(har, out, indent=2, ensure_ascii=False)
        return len(har["log"]["entries"])

    return replace_file(destination, write_to)


def _write_lines(records: Iterable[Record], part: Path) -> int:
    """JSON Lines, one record at a time (a capture of millions streams through)."""
    count = 0
    with open(part, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
