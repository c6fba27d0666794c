"""HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) from capture records.

One entry per HTTP request, paired with its final response as the inspector pairs
them (lab/pairs.py: the oldest unanswered request of its connection). What the
capture knows that a plain HAR would lose is said, not dropped:

- a body is written as its bytes were meant (a chunked body without its chunk
  framing), from the raw bytes the capture kept;
- a body the capture cut (it keeps at most RAW_LIMIT bytes of a message) has the
  kept part as its text, its whole size, and a ``comment`` saying how much was kept;
- interim 1xx responses (100 Continue) are listed in the response's ``_interim``;
- a WebSocket upgrade is an entry (``_resourceType`` "websocket") whose frames are in
  ``_webSocketMessages``, as Chrome writes them (type send/receive, time, opcode, data).

Custom fields start with ``_``, as the spec asks.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lab import __version__
from lab.pairs import Pairs

Record = dict[str, Any]
Json = dict[str, Any]

#: The protocols whose messages are HTTP (a WebSocket connection starts with HTTP).
HTTP_PROTOCOLS = frozenset({"http", "websocket"})
#: The first field of the rest of a request's body, when its head went out as a
#: message of its own before its answer (lab/dissect/http.py).
BODY_OF = "body of"


def headers(fields: dict[str, Any]) -> list[dict[str, str]]:
    return [{"name": key.removeprefix("header: "), "value": str(value)}
            for key, value in fields.items() if key.startswith("header: ")]


def header(fields: dict[str, Any], name: str) -> str:
    for item in headers(fields):
        if item["name"].lower() == name.lower():
            return item["value"]
    return ""


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def dechunk(data: bytes) -> bytes:
    """A chunked body's data without its framing (as much as ``data`` holds: a cut
    body gives the data up to the cut)."""
    out = bytearray()
    pos = 0
    while (eol := data.find(b"\r\n", pos)) >= 0:
        try:
            size = int(data[pos:eol].split(b";", 1)[0].strip(), 16)
        except ValueError:
            break
        if size <= 0:
            break
        start = eol + 2
        out += data[start:start + size]
        pos = start + size + 2
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Body:
    """A message's body as the capture has it."""

    head_size: int  # bytes up to and including the blank line; -1 if the head was cut
    wire: int  # body bytes as they crossed (chunk framing included)
    data: bytes  # the body's bytes kept, decoded from the chunk framing
    size: int  # the whole body's size, decoded
    cut: bool  # the capture kept only ``data`` of ``size`` bytes

    @classmethod
    def of(cls, record: Record, rest: Iterable[Record] = ()) -> Body:
        """The body of ``record``, and of the messages that carry ``rest`` of it (a
        request whose head went out before its answer, then its body: 100-continue)."""
        fields = record.get("fields") or {}
        raw = base64.b64decode(record.get("raw", ""))
        total = int(record.get("size", 0))
        head, sep, kept = raw.partition(b"\r\n\r\n")
        length = fields.get("body length")
        if not sep:  # a head longer than the capture keeps
            return cls(-1, -1, b"", length if isinstance(length, int) else 0, True)
        head_size = len(head) + len(sep)
        size = length if isinstance(length, int) else total - head_size
        cut = total > len(raw)
        for more in rest:
            more_raw = base64.b64decode(more.get("raw", ""))
            more_size = int(more.get("size", 0))
            more_length = (more.get("fields") or {}).get("body length")
            kept += b"" if cut else more_raw  # after a cut, bytes would not follow on
            cut |= more_size > len(more_raw)
            total += more_size
            size += more_length if isinstance(more_length, int) else more_size
        chunked = "chunked" in header(fields, "Transfer-Encoding").lower()
        data = dechunk(kept) if chunked else kept
        return cls(head_size, total - head_size, data, size, cut)

    def cut_note(self) -> str:
        return (f"truncated in the capture: {len(self.data):,} of {self.size:,} bytes kept"
                if self.cut else "")


def _incomplete(record: Record) -> bool:
    """The message itself ended early (the connection closed mid-body), as the
    dissector says: its missing bytes never crossed, nothing was cut."""
    return str(record.get("summary", "")).startswith("incomplete ")


def as_text(data: bytes, *, cut: bool) -> str | None:
    """UTF-8 text, or None for bytes that are not (a cut may split the last character)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.reason == "unexpected end of data":
            return data[:exc.start].decode("utf-8")
        return None


def _comment(*notes: str) -> Json:
    said = "; ".join(note for note in notes if note)
    return {"comment": said} if said else {}


def request(record: Record, rest: list[Record] | None = None) -> Json:
    """The request of ``record``, whose body ends in the messages ``rest`` if any."""
    rest = rest or []
    fields = record.get("fields") or {}
    target = str(fields.get("target", "/"))
    host = header(fields, "Host") or record.get("server", "")
    url = target if "://" in target else f"http://{host}{target}"
    body = Body.of(record, rest)
    har: Json = {
        "method": str(fields.get("method", "")),
        "url": url,
        "httpVersion": str(fields.get("version", "HTTP/1.1")),
        "cookies": [],
        "headers": headers(fields),
        "queryString": [{"name": k, "value": v}
                        for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
        "headersSize": body.head_size,
        "bodySize": body.wire,
    }
    if body.data or body.cut:
        text = as_text(body.data, cut=body.cut)
        post: Json = {"mimeType": header(fields, "Content-Type"),
                      "text": text if text is not None else _b64(body.data)}
        if text is None:
            post["_encoding"] = "base64"
        har["postData"] = post | _comment(body.cut_note(),
                                          "" if text is not None else "binary: base64")
    return har | _comment(*(str(r["summary"]) for r in [record, *rest] if _incomplete(r)))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def response(record: Record) -> Json:
    fields = record.get("fields") or {}
    body = Body.of(record)
    content: Json = {"size": max(body.size, 0),
                     "mimeType": header(fields, "Content-Type") or "x-unknown"}
    if body.data:
        text = as_text(body.data, cut=body.cut)
        content["text"] = text if text is not None else _b64(body.data)
        if text is None:
            content["encoding"] = "base64"
    content |= _comment(body.cut_note())
    return {
        "status": int(fields.get("status", 0)),
        "statusText": str(fields.get("reason", "")),
        "httpVersion": str(fields.get("version", "HTTP/1.1")),
        "cookies": [],
        "headers": headers(fields),
        "content": content,
        "redirectURL": header(fields, "Location"),
        "headersSize": body.head_size,
        "bodySize": body.wire,
    } | _comment(str(record["summary"]) if _incomplete(record) else "",
                 _undelivered(record))


def _undelivered(record: Record) -> str:
    """What a response's record says of bytes the Wire read and never delivered."""
    lost = int(record.get("undelivered", 0) or 0)
    return (f"{lost:,} of its bytes never reached the client: it had closed or reset"
            if lost else "")


NO_RESPONSE: Json = {
    "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
    "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
    "headersSize": -1, "bodySize": -1, "_error": "no response captured",
    "comment": "no response captured"}


def interim(record: Record) -> Json:
    """A 1xx response before the final one (``_interim`` of the entry's response)."""
    fields = record.get("fields") or {}
    return {"status": int(fields.get("status", 0)), "statusText": str(fields.get("reason", "")),
            "headers": headers(fields), "_time": iso(float(record["time"]))}


# ---- WebSocket frames --------------------------------------------------------------

def frame_payload(raw: bytes) -> tuple[int, bytes, int] | None:
    """A WebSocket frame's opcode, its payload as kept (unmasked) and the payload's
    whole length; None if ``raw`` does not hold a frame's header."""
    if len(raw) < 2:
        return None
    opcode, masked, length, pos = raw[0] & 0x0F, raw[1] & 0x80, raw[1] & 0x7F, 2
    if length >= 126:
        width = 2 if length == 126 else 8
        if len(raw) < pos + width:
            return None
        length, pos = int.from_bytes(raw[pos:pos + width], "big"), pos + width
    key = raw[pos:pos + 4] if masked else b""
    if masked and len(key) < 4:
        return None
    payload = raw[pos + len(key):pos + len(key) + length]
    if key and payload:
        mask = (key * (len(payload) // 4 + 1))[:len(payload)]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(
            len(payload), "big")
    return opcode, payload, length


def ws_message(record: Record) -> Json | None:
    """A frame as an item of ``_webSocketMessages`` (None for what is not a frame)."""
    fields = record.get("fields") or {}
    if record.get("malformed") or "opcode" not in fields:
        return None
    frame = frame_payload(base64.b64decode(record.get("raw", "")))
    if frame is None:
        return None
    opcode, payload, length = frame
    cut = len(payload) < length
    item: Json = {"type": "send" if record.get("sender") == "client" else "receive",
                  "time": float(record["time"]), "opcode": opcode}
    if opcode == 8 and len(payload) >= 2:  # CLOSE: a code, then a reason
        item["data"] = payload[2:].decode("utf-8", errors="replace")
        item["_closeCode"] = int.from_bytes(payload[:2], "big")
    else:
        text = None if opcode == 2 else as_text(payload, cut=cut)
        item["data"] = text if text is not None else _b64(payload)
        if text is None and opcode != 2:
            item["_encoding"] = "base64"
    item["_summary"] = str(record.get("summary", ""))
    if cut:
        item["_comment"] = (f"truncated in the capture: {len(payload):,} of {length:,} "
                            "payload bytes kept")
    return item


# ---- entries -----------------------------------------------------------------------

@dataclass(slots=True)
class Exchange:
    """A request, its final response when seen, and what came between or after."""

    request: Record
    response: Record | None = None
    interim: list[Record] = field(default_factory=list)
    rest: list[Record] = field(default_factory=list)  # the rest of the request's body
    frames: list[Json] | None = None  # a WebSocket's frames, after its 101

    def entry(self) -> Json:
        req, resp = self.request, self.response
        wait = max((resp["time"] - req["time"]) * 1000, 0) if resp else 0
        answer = response(resp) if resp else dict(NO_RESPONSE)
        if self.interim:
            answer["_interim"] = [interim(r) for r in self.interim]
            said = ", ".join(str(r.get("summary", "")) for r in self.interim)
            answer["comment"] = "; ".join(filter(None, [f"after {said}",
                                                        answer.get("comment", "")]))
        entry: Json = {
            "startedDateTime": iso(float(req["time"])),
            "time": wait,
            "request": request(req, self.rest),
            "response": answer,
            "cache": {},
            "timings": {"send": 0, "wait": wait, "receive": 0},
            "serverIPAddress": str(req.get("server", "")).rsplit(":", 1)[0].strip("[]"),
            "connection": str(req.get("connection", "")),
        }
        if self.frames is not None:
            entry["_resourceType"] = "websocket"
            entry["_webSocketMessages"] = self.frames
        return entry


def _status(record: Record) -> int | None:
    value = (record.get("fields") or {}).get("status")
    return value if isinstance(value, int) else None


class HarBuilder:
    """Feed every record in capture order; ``entries`` then are the HAR's entries."""

    def __init__(self) -> None:
        self._pairs = Pairs()
        self._exchanges: list[Exchange] = []
        self._waiting: dict[int, Exchange] = {}  # request's message id → its exchange
        self._open: dict[str, list[int]] = {}  # connection → ids of requests waiting
        self._upgraded: dict[str, Exchange] = {}  # connection → its WebSocket exchange
        self._last: dict[str, Exchange] = {}  # connection → its newest request

    def add(self, record: Record) -> None:
        answered = self._pairs.add_record(record)
        if record.get("type") != "message" or record.get("protocol") not in HTTP_PROTOCOLS:
            return
        conn = str(record["connection"])
        if conn in self._upgraded:
            frame = ws_message(record)
            frames = self._upgraded[conn].frames
            if frame is not None and frames is not None:
                frames.append(frame)
            return
        fields = record.get("fields") or {}
        if record.get("malformed") or not fields:
            return
        first = next(iter(fields))
        if record.get("sender") == "client" and first == "method":
            exchange = Exchange(record)
            self._exchanges.append(exchange)
            self._waiting[int(record["id"])] = exchange
            self._open.setdefault(conn, []).append(int(record["id"]))
            self._last[conn] = exchange
        elif record.get("sender") == "client" and first == BODY_OF and conn in self._last:
            self._last[conn].rest.append(record)
        elif answered is not None and answered in self._waiting:
            exchange = self._waiting.pop(answered)
            self._open[conn].remove(answered)
            exchange.response = record
            if _status(record) == 101:
                exchange.frames = []
                self._upgraded[conn] = exchange
        elif (status := _status(record)) is not None and 100 <= status < 200:
            waiting = self._open.get(conn)
            if waiting:
                self._waiting[waiting[0]].interim.append(record)

    @property
    def entries(self) -> list[Json]:
        return [exchange.entry() for exchange in self._exchanges]


def to_har(records: Iterable[Record]) -> Json:
    """HAR 1.2 for the HTTP messages among ``records`` (others are skipped; a malformed
    request makes no entry, though its answer is its own, as the inspector pairs it)."""
    builder = HarBuilder()
    for record in records:
        builder.add(record)
    return {"log": {
        "version": "1.2",
        "creator": {"name": "Client-Server Lab", "version": __version__},
        "pages": [],
        "entries": builder.entries,
    }}
