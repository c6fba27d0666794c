"""What the HTTP dissector keeps per direction and per exchange, and the Pieces it
makes of them (see lab/dissect/http.py).

A direction (``Side``) is read by the fast path (``lab.dissect.http_head``,
``conn`` None) until its first message that is not plain, then by an h11
parser for the rest of the connection.
"""

from __future__ import annotations

from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field

import h11

from lab.dissect import http_fields as hf
from lab.dissect.base import Dissector
from lab.model import RAW_LIMIT, Piece, Sender

#: Largest head h11 will wait for before calling the message malformed.
MAX_HEAD = 64 * 1024

#: The request headers the response parser needs to frame responses.
_PROBE_HEADERS = frozenset({b"host", b"connection", b"upgrade"})


@dataclass(slots=True)
class Message:
    """The message being read on one side: a bounded raw prefix, counts, head, body."""

    started: float | None = None
    raw: bytearray = field(default_factory=bytearray)
    size: int = 0
    head: hf.Head | None = None
    body: bytearray = field(default_factory=bytearray)
    body_length: int = 0
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: Body bytes still to come (fast path only).
    remaining: int = 0
    #: The request's exchange (requests only), to know when its answer comes first.
    exchange: Exchange | None = None
    #: The request's summary once its head went out as its own Piece because the
    #: server answered before its body ended (100-continue, an early 4xx): this
    #: Message is then the rest of that body.
    apart: str | None = None

    def take(self, data: bytes | bytearray) -> None:
        room = RAW_LIMIT - len(self.raw)
        if room > 0:
            self.raw += data[:room] if len(data) > room else data
        self.size += len(data)

    def add_body(self, data: bytes | bytearray) -> None:
        room = hf.BODY_PREVIEW - len(self.body)
        if room > 0:
            self.body += data[:room] if len(data) > room else data
        self.body_length += len(data)

    def fields(self) -> hf.FieldList:
        if self.head is None:
            return []
        trailers = hf.header_fields("trailer", self.trailers)
        if self.apart is not None:
            return [("body of", self.apart), *self.body_fields(), *trailers]
        return [*hf.head_fields(self.head), *trailers, *self.body_fields()]

    def split(self) -> None:
        """The head (and the body so far) went out as a Piece: keep counting the rest."""
        assert self.head is not None
        self.apart = hf.summary(self.head)
        self.raw = bytearray()
        self.size = 0
        self.body = bytearray()
        self.body_length = 0

    def body_fields(self) -> hf.FieldList:
        return hf.body_fields(self.head, bytes(self.body), self.body_length)


@dataclass(slots=True)
class Side:
    """One direction: its parser (None while on the fast path) and the bytes it
    has not yet counted into a message."""

    sender: Sender
    noun: str
    role: type[h11.CLIENT] | type[h11.SERVER]  # the h11 role that reads this side
    conn: h11.Connection | None = None
    unread: bytearray = field(default_factory=bytearray)
    msg: Message = field(default_factory=Message)
    fallback: Dissector | None = None

    def receive(self, data: bytes, now: float) -> None:
        msg = self.msg
        if msg.started is None:
            msg.started = now
        if self.conn is None and msg.remaining and not self.unread:
            # a fast-path body going on: count it here, so it is not copied whole
            body = data[:msg.remaining]
            msg.take(body)
            msg.add_body(body)
            msg.remaining -= len(body)
            data = data[len(body):]
            if not data:
                return
        self.unread += data
        if self.conn is not None:
            self.conn.receive_data(data)

    def to_h11(self) -> None:
        """From the start of the current message on, h11 reads this side."""
        self.conn = h11.Connection(self.role, MAX_HEAD)
        if self.unread:
            self.conn.receive_data(bytes(self.unread))

    def consume(self, count: int) -> bytearray:
        """Count the next ``count`` unread bytes into the current message (fast path)."""
        taken = self.unread[:count]
        del self.unread[:count]
        self.msg.take(taken)
        return taken

    def settle(self) -> None:
        """Count the bytes h11 has consumed since last time into the current message."""
        if self.conn is None:
            return
        consumed = len(self.unread) - len(self.conn.trailing_data[0])
        if consumed > 0:
            self.msg.take(self.unread[:consumed])
            del self.unread[:consumed]

    def finish(self, now: float, *, rest: bool = False) -> Message:
        """End the current message (with every unread byte too if ``rest``); start the next."""
        self.settle()
        if rest:
            self.msg.take(self.unread)
            self.unread.clear()
        done, self.msg = self.msg, Message(started=now if self.unread else None)
        return done

    @property
    def half(self) -> bool:
        """Some message has begun and not ended."""
        return bool(self.unread) or self.msg.size > 0 or self.msg.head is not None


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request waiting for its final response."""

    summary: str  # "" for a response nobody asked for
    started: float
    request: hf.RequestHead | None  # None for a response nobody asked for
    switch: str | None  # the Upgrade token or "connect" when it proposes a switch
    #: Its response may be read by the fast path: HTTP/1.1, keep-alive, not HEAD.
    plain: bool = False
    #: The client asks to keep the connection (RFC 9112 §9.3): HTTP/1.1 without
    #: ``close``, or HTTP/1.0 with ``keep-alive``.
    persist: bool = False

    @classmethod
    def of(cls, request: hf.RequestHead, started: float) -> Exchange:
        switch = _switch_token(request)
        persist = persistent(request)
        plain = (switch is None and request.http_version == b"1.1"
                 and request.method != b"HEAD" and persist)
        return cls(hf.summary(request), started, request, switch, plain, persist)

    def probe(self) -> h11.Request:
        """What the response parser is told of the request: no body, framing headers."""
        request = self.request
        if request is None:
            return h11.Request(method="GET", target="/", headers=[("Host", "-")])
        headers = [(k, v) for k, v in request.headers if k in _PROBE_HEADERS]
        if request.http_version != b"1.1":  # h11 sends only 1.1: say what 1.0 means
            headers += [] if self.persist else [(b"connection", b"close")]
            headers += [] if hf.header(request, b"host") else [(b"host", b"-")]
        return h11.Request(method=request.method, target=request.target, headers=headers)


def persistent(head: hf.Head) -> bool:
    """Whether the sender of ``head`` keeps the connection after it (RFC 9112 §9.3):
    not if it says ``close``; with HTTP/1.1 yes; with HTTP/1.0 only if it says
    ``keep-alive``."""
    tokens = {token.strip().lower() for key, value in head.headers if key == b"connection"
              for token in value.split(b",")}
    if b"close" in tokens:
        return False
    return head.http_version != b"1.0" or b"keep-alive" in tokens


def _switch_token(request: hf.RequestHead) -> str | None:
    if request.method == b"CONNECT":
        return "connect"
    upgrade = hf.header(request, b"upgrade")
    return None if upgrade is None else hf.text(upgrade).split(",")[0].split("/")[0].strip().lower()


#: Stands for the missing request when a response comes first (a 408 on an idle connection).
UNSOLICITED = Exchange("", 0.0, None, None)


class PieceMaker:
    """The HttpDissector's Pieces: a side's finished or cut-off message, paired with
    the request it answers."""

    _req: Side
    _resp: Side
    _exchanges: deque[Exchange]

    def _answer(self, now: float, *, final: bool = False) -> list[Piece]:
        """The response side's finished message, after the head of the request it
        answers when that request's body has not ended (it is numbered first)."""
        return [*self._head_first(now), self._piece(self._resp, now, final=final)]

    def _head_first(self, now: float) -> list[Piece]:
        """The request being read, as far as it came, when its answer begins now."""
        req = self._req
        msg = req.msg
        if (req.fallback is not None or msg.head is None or msg.apart is not None
                or not self._exchanges or self._exchanges[0] is not msg.exchange):
            return []
        req.settle()
        fields = [*msg.fields(), ("body continues", "in the next message, sent after "
                                  "the server's answer began")]
        piece = Piece(sender=req.sender, time=now, summary=hf.summary(msg.head),
                      raw=bytes(msg.raw), size=msg.size, fields=tuple(fields),
                      truncated=msg.size > len(msg.raw))
        msg.split()
        return [piece]

    def _piece(self, side: Side, now: float, *, final: bool = False) -> Piece:
        """The finished message of ``side``; ``final`` ends its exchange."""
        msg = side.finish(now)
        assert msg.head is not None
        fields = msg.fields()
        if side is self._resp:
            fields += self._pairing(now, final=final)
        summary = hf.summary(msg.head)
        if msg.apart is not None:
            summary = f"body of {msg.apart}: {msg.body_length} bytes"
        return Piece(
            sender=side.sender,
            time=now,
            summary=summary,
            raw=bytes(msg.raw),
            size=msg.size,
            fields=tuple(fields),
            truncated=msg.size > len(msg.raw),
        )

    def _pairing(self, now: float, *, final: bool) -> hf.FieldList:
        if not self._exchanges:
            return []
        exchange = self._exchanges.popleft() if final else self._exchanges[0]
        if not exchange.summary:
            return []
        latency = round((now - exchange.started) * 1000, 3)
        return [("latency ms", latency), ("request", exchange.summary)]

    def _incomplete(self, side: Side, now: float) -> Piece:
        """A message the connection's end cut short."""
        msg = give_up(side)
        if msg.head is None:
            summary = f"incomplete {side.noun}: head cut off after {msg.size} bytes"
        elif msg.apart is not None:
            summary = f"incomplete body of {msg.apart}: {msg.body_length} bytes"
        else:
            expected = hf.content_length(msg.head)
            of = "" if expected is None else f" of {expected}"
            summary = f"incomplete {side.noun}: {msg.body_length}{of} body bytes"
        fields = msg.fields()
        if msg.head is None:
            fields.append(("error", f"head cut off after {msg.size} bytes"))
        if side is self._resp:
            fields += self._pairing(now, final=True)
        return Piece(
            sender=side.sender,
            time=now,
            summary=summary,
            raw=bytes(msg.raw),
            size=msg.size,
            fields=tuple(fields),
            truncated=True,
            malformed=msg.head is None,
        )


def give_up(side: Side) -> Message:
    """The current message with every byte not yet counted, and a fresh one in its place."""
    with suppress(Exception):  # a parser in a bad state: count the rest as unread
        side.settle()
    return side.finish(0.0, rest=True)


def check_request(side: Side, request: h11.Request) -> None:
    """Refuse what the lab's server (aiohttp) refuses and h11 would read on, so the
    capture never shows requests the server did not see (RFC 9112 §6.1, §5.2)."""
    names = [key for key, _ in request.headers]
    conn = side.conn
    assert conn is not None  # h11 read this head
    head = bytes(side.unread[:len(side.unread) - len(conn.trailing_data[0])])
    if b"transfer-encoding" in names and b"content-length" in names:
        raise h11.RemoteProtocolError(
            "Content-Length and Transfer-Encoding together (RFC 9112 §6.1): the server "
            "rejects the request and reads nothing after it")
    body = head.rstrip(b"\r\n")
    if b"\n " in body or b"\n\t" in body:
        raise h11.RemoteProtocolError(
            "a header line folded onto the next (obs-fold, RFC 9112 §5.2): the server "
            "rejects the request and reads nothing after it")
    for line in body.split(b"\n"):
        name, colon, value = line.rstrip(b"\r").partition(b":")
        if colon and name.lower() == b"transfer-encoding" \
                and b"\t" in value[len(value.rstrip(b" \t")):]:  # spaces alone: accepted
            raise h11.RemoteProtocolError(
                "Transfer-Encoding with a tab after its value: the server does not "
                "take it as chunked, rejects the request and reads nothing after it")
