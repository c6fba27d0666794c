"""A capture as JSON Lines (see DESIGN.md, 'Capture JSON Lines'): the record of each
event, and the writer that appends them to a file as they happen, a whole line or
none, pausing on a full disk (lab/outage.py) while the lab goes on.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import json
import os
import time
from typing import IO, Any

from lab.model import (
    Connection,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    Message,
    MessageAmended,
    MessageCaptured,
)
from lab.outage import Outage


def message_record(message: Message) -> dict[str, Any]:
    """The JSON Lines object for a Message (see DESIGN.md, 'Capture JSON Lines');
    ``node``, ``client_node`` and ``parent`` only when the message has them."""
    return {
        "type": "message",
        "id": message.id,
        "time": message.time,
        "connection": message.connection,
        "protocol": message.protocol,
        "sender": message.sender.value,
        "client": message.client,
        "server": message.server,
        "summary": message.summary,
        "size": message.size,
        "fields": dict(message.fields),
        "raw": base64.b64encode(message.raw).decode("ascii"),
        "truncated": message.truncated,
        "malformed": message.malformed,
        "injected": message.injected,
        "held": message.held,
        **({"undelivered": message.undelivered} if message.undelivered else {}),
        **{key: value for key, value in (("node", message.node),
                                          ("client_node", message.client_node),
                                          ("parent", message.parent)) if value is not None},
    }


def connection_record(kind: str, conn: Connection) -> dict[str, Any]:
    return {
        "type": kind,
        "time": conn.opened if kind == "open" else conn.closed,
        "connection": conn.id,
        "protocol": conn.protocol,
        "transport": conn.transport.value,
        "client": conn.client,
        "server": conn.server,
        "parent": conn.parent,
    }


def event_record(event: Event) -> dict[str, Any] | None:
    """The JSON Lines object for a capture event, or None for events not recorded."""
    if isinstance(event, MessageCaptured):
        return message_record(event.message)
    if isinstance(event, MessageAmended):
        message = event.message
        return {"type": "amend", "id": message.id, "time": message.time,
                "connection": message.connection, "undelivered": message.undelivered}
    if isinstance(event, ConnectionOpened):
        return connection_record("open", event.connection)
    if isinstance(event, ConnectionClosed):
        return connection_record("close", event.connection)
    return None


class JsonLinesWriter:
    """A bus subscriber that writes each event as one JSON line, whole or not at all.

    Each line goes to the file in one write of its descriptor (nothing waits in a
    buffer); a write that fails is cut back to the last whole line, so the file never
    holds a torn line. A full disk pauses the writer (one line on stderr) while the
    lab goes on: the messages captured meanwhile are counted and lost (``open``,
    ``close`` and ``amend`` records are kept and written later); every
    RETRY_INTERVAL (lab/outage.py) it tries again, and when it can write it adds a ``lost`` record
    (``{"type":"lost","connection":"","messages":N,"note":…}``) and says so once.
    """

    def __init__(self, stream: IO[str], name: str | None = None) -> None:
        self._stream = stream
        self.name = name or str(getattr(stream, "name", "the capture file"))
        self.outage = Outage("capture", "capturing",
                             f"cannot write the capture to {self.name}", self.name)
        self._fd: int | None = None
        self._end = 0
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            stream.flush()
            self._fd = stream.fileno()
            self._end = os.fstat(self._fd).st_size
        self._kept: dict[tuple[str, str], str] = {}  # open, close, amend lines while paused

    def __call__(self, event: Event) -> None:
        record = event_record(event)
        if record is None:
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        if self.outage.paused:
            if self.outage.waiting():
                self._skip(record, line)
            else:
                self._resume(record, line)
            return
        try:
            self._write(line)
        except OSError as exc:
            self._pause(exc, record, line)

    def close(self) -> None:
        """Say what a full disk cost if the writer is still paused (it tries once more)."""
        if self.outage.paused:
            self.outage.left(still_full=not self._catch_up())

    def _write(self, text: str) -> None:
        if self._fd is None:  # not a file (a StringIO)
            self._stream.write(text)
            self._stream.flush()
            return
        encoded = text.encode("utf-8")
        data = memoryview(encoded)
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._end)  # back to the last whole line
            raise
        self._end += len(encoded)

    def _skip(self, record: dict[str, Any], line: str) -> None:
        if record["type"] == "message":
            self.outage.lost += 1
        else:
            self._kept[record["type"], str(record.get("id", record.get("connection")))] = line

    def _catch_up(self) -> bool:
        """Write what waited, with a ``lost`` record; whether it could."""
        lost = self.outage.lost
        note = {"type": "lost", "time": time.time(), "connection": "", "messages": lost,
                "note": f"{lost} messages captured while the disk was full (from "
                        f"{time.strftime('%H:%M:%S', time.gmtime(self.outage.since))} UTC) "
                        "are not in this file"}
        try:
            self._write("".join(self._kept.values()) + json.dumps(note) + "\n")
        except OSError:
            return False
        self._kept.clear()
        return True

    def _resume(self, record: dict[str, Any], line: str) -> None:
        if not self._catch_up():
            self.outage.begin(True, "")  # (already paused: only the next try moves)
            self._skip(record, line)
            return
        self.outage.end()
        try:
            self._write(line)
        except OSError as exc:
            self._pause(exc, record, line)

    def _pause(self, exc: OSError, record: dict[str, Any], line: str) -> None:
        self.outage.begin(exc.errno in (errno.ENOSPC, errno.EDQUOT), exc.strerror or exc)
        self._skip(record, line)
