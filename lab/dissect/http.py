"""The HTTP/1.x dissector: one Piece per request and per response, both directions.

Two h11 parsers follow one TCP connection: a server-role one reads the client's
requests, a client-role one reads the server's responses. Neither sees the
other's bytes, so each is told what it must know by ``send()`` (the bytes h11
writes are dropped):

- the response parser gets a *probe* per request (method, target, version and
  the Host, Connection and Upgrade headers, no body), so it knows HEAD and 304
  have no body, CONNECT and Upgrade may switch protocols, and when keep-alive
  ends;
- the request parser gets a stand-in ``204`` as soon as a request's head is
  read, so pipelined requests are read as they arrive, not after their
  responses. A request that proposes a protocol switch waits for the real
  answer instead.

A message's ``raw`` is the exact stream slice h11 consumed for it (head and
body, chunk framing included), kept up to RAW_LIMIT. After ``101`` (or a 2xx
to CONNECT) both directions go to ``UPGRADES[token]()``, raw for now. Input
that h11 rejects becomes one ``malformed`` Piece; that direction is then
dissected as raw chunks. ``feed`` and ``close`` never raise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

import h11

from lab.dissect import Dissector, DissectorFactory, register
from lab.dissect import http_fields as hf
from lab.dissect.raw import RawDissector
from lab.model import RAW_LIMIT, Piece, Sender

#: Largest head h11 will wait for before calling the message malformed.
MAX_HEAD = 64 * 1024

#: Who dissects a connection after a protocol switch, by the lower-cased Upgrade
#: token ("connect" for a CONNECT tunnel). The WebSocket dissector adds itself here.
UPGRADES: dict[str, DissectorFactory] = {}

#: The request headers the response parser needs to frame responses.
_PROBE_HEADERS = frozenset({b"host", b"connection", b"upgrade"})


@dataclass(slots=True)
class _Message:
    """The message being read on one side: a bounded raw prefix, counts, head, body."""

    started: float | None = None
    raw: bytearray = field(default_factory=bytearray)
    size: int = 0
    head: hf.Head | None = None
    body: bytearray = field(default_factory=bytearray)
    body_length: int = 0
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def take(self, data: bytes | bytearray) -> None:
        room = RAW_LIMIT - len(self.raw)
        if room > 0:
            self.raw += data[:room]
        self.size += len(data)

    def add_body(self, data: bytes) -> None:
        room = hf.BODY_PREVIEW - len(self.body)
        if room > 0:
            self.body += data[:room]
        self.body_length += len(data)

    def fields(self) -> hf.FieldList:
        if self.head is None:
            return []
        trailers = hf.header_fields("trailer", self.trailers)
        return [*hf.head_fields(self.head), *trailers, *self.body_fields()]

    def body_fields(self) -> hf.FieldList:
        return hf.body_fields(self.head, bytes(self.body), self.body_length)


@dataclass(slots=True)
class _Side:
    """One direction: its h11 parser and the bytes it has not yet counted."""

    sender: Sender
    noun: str
    conn: h11.Connection
    unread: bytearray = field(default_factory=bytearray)
    msg: _Message = field(default_factory=_Message)
    fallback: Dissector | None = None

    def receive(self, data: bytes, now: float) -> None:
        if self.msg.started is None:
            self.msg.started = now
        self.unread += data
        self.conn.receive_data(data)

    def settle(self) -> None:
        """Count the bytes h11 has consumed since last time into the current message."""
        consumed = len(self.unread) - len(self.conn.trailing_data[0])
        if consumed > 0:
            self.msg.take(self.unread[:consumed])
            del self.unread[:consumed]

    def finish(self, now: float, *, rest: bool = False) -> _Message:
        """End the current message (with every unread byte too if ``rest``); start the next."""
        self.settle()
        if rest:
            self.msg.take(self.unread)
            self.unread.clear()
        done, self.msg = self.msg, _Message(started=now if self.unread else None)
        return done

    @property
    def half(self) -> bool:
        """Some message has begun and not ended."""
        return bool(self.unread) or self.msg.size > 0 or self.msg.head is not None


@dataclass(frozen=True, slots=True)
class _Exchange:
    """A request waiting for its final response."""

    summary: str  # "" for a response nobody asked for
    started: float
    probe: h11.Request
    switch: str | None  # the Upgrade token or "connect" when it proposes a switch

    @classmethod
    def of(cls, request: h11.Request, started: float) -> _Exchange:
        headers = [(k, v) for k, v in request.headers if k in _PROBE_HEADERS]
        if request.http_version != b"1.1":  # h11 sends only 1.1; 1.0 means one exchange
            headers += [(b"connection", b"close")]
            headers += [] if hf.header(request, b"host") else [(b"host", b"-")]
        probe = h11.Request(method=request.method, target=request.target, headers=headers)
        return cls(hf.summary(request), started, probe, _switch_token(request))


def _switch_token(request: h11.Request) -> str | None:
    if request.method == b"CONNECT":
        return "connect"
    upgrade = hf.header(request, b"upgrade")
    return None if upgrade is None else hf.text(upgrade).split(",")[0].split("/")[0].strip().lower()


#: Stands for the missing request when a response comes first (a 408 on an idle connection).
_UNSOLICITED = _Exchange(
    "", 0.0, h11.Request(method="GET", target="/", headers=[("Host", "-")]), None
)

Handler = Callable[["HttpDissector", _Side, h11.Event, float], list[Piece]]


class HttpDissector:
    """HTTP/1.x in both directions of one TCP connection. Feed bytes; take Pieces."""

    def __init__(self) -> None:
        self._req = _Side(Sender.CLIENT, "request", h11.Connection(h11.SERVER, MAX_HEAD))
        self._resp = _Side(Sender.SERVER, "response", h11.Connection(h11.CLIENT, MAX_HEAD))
        self._exchanges: deque[_Exchange] = deque()
        self._probed = False  # the response parser has been sent _exchanges[0]
        #: After a protocol switch, the dissector both directions go to.
        self._upgraded: Dissector | None = None

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        """Take bytes that crossed from ``sender``; return the messages they complete."""
        side = self._req if sender is Sender.CLIENT else self._resp
        try:
            if side.fallback is not None:
                return side.fallback.feed(sender, data, now)
            if not data:
                return []
            side.receive(data, now)
            return self._pump(now)
        except Exception as exc:  # the Wire must keep forwarding whatever happens
            return [self._malformed(side, exc, now, data if side.fallback else b"")]

    def close(self, now: float) -> list[Piece]:
        """The connection ended: finish a body-until-close, flag what was cut short."""
        pieces: list[Piece] = []
        for side in (self._req, self._resp):
            if side.fallback is None and side.half:
                pieces += self._close_side(side, now)
        fallbacks = {id(s.fallback): s.fallback for s in (self._req, self._resp) if s.fallback}
        for fallback in fallbacks.values():
            with suppress(Exception):  # a broken fallback has nothing left to say
                pieces += fallback.close(now)
        return pieces

    # -- reading ---------------------------------------------------------------

    def _pump(self, now: float) -> list[Piece]:
        """Read both sides until neither moves: a response can unblock a request."""
        pieces: list[Piece] = []
        moved = True
        while moved:
            moved = False
            for side in (self._req, self._resp):
                if side.fallback is None:
                    try:
                        moved |= self._read(side, now, pieces)
                    except Exception as exc:
                        pieces.append(self._malformed(side, exc, now))
        return pieces

    def _read(self, side: _Side, now: float, pieces: list[Piece]) -> bool:
        """Handle the events h11 has for ``side``; True if there were any."""
        handlers = _REQUEST if side is self._req else _RESPONSE
        moved = False
        while side.fallback is None:
            if side is self._resp:
                self._probe()
            event = side.conn.next_event()
            if not isinstance(event, h11.Event):  # NEED_DATA or PAUSED
                break
            moved = True
            pieces += handlers[type(event)](self, side, event, now)
            if isinstance(event, h11.ConnectionClosed):
                break
        if side.fallback is None:
            side.settle()  # keeps memory bounded: a body's bytes are counted, not kept
        return moved

    def _probe(self) -> None:
        """Tell the response parser about the request its next response answers."""
        conn = self._resp.conn
        if self._probed or conn.our_state is not h11.IDLE:
            return
        if not self._exchanges:
            if not self._resp.unread:
                return
            self._exchanges.append(_UNSOLICITED)
        conn.send(self._exchanges[0].probe)
        conn.send(h11.EndOfMessage())
        self._probed = True

    # -- events ----------------------------------------------------------------

    def _request_head(self, side: _Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.Request)
        side.msg.head = event
        started = side.msg.started
        exchange = _Exchange.of(event, now if started is None else started)
        if self._resp.fallback is None:
            self._exchanges.append(exchange)
        if exchange.switch is None or self._resp.fallback is not None:
            _stand_in_response(side.conn)  # with no response parser, no 101 can be seen
        return []

    def _body(self, side: _Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.Data)
        side.msg.add_body(event.data)
        return []

    def _request_end(self, side: _Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.EndOfMessage)
        side.msg.trailers = event.headers.raw_items()
        piece = self._piece(side, now)
        _next_cycle(side.conn)
        return [piece]

    def _informational(self, side: _Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.InformationalResponse)
        side.msg.head = event
        if side.conn.their_state is h11.SWITCHED_PROTOCOL:
            return self._switch(side, now)
        return [self._piece(side, now)]

    def _response_head(self, side: _Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.Response)
        side.msg.head = event
        if side.conn.their_state is h11.SWITCHED_PROTOCOL:  # a 2xx to CONNECT
            return self._switch(side, now)
        return []

    def _response_end(self, side: _Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.EndOfMessage)
        side.msg.trailers = event.headers.raw_items()
        switch = self._exchanges[0].switch if self._exchanges else None
        piece = self._piece(side, now, final=True)
        if switch is not None and self._req.fallback is None:
            _stand_in_response(self._req.conn)  # the switch was refused: read requests on
            _next_cycle(self._req.conn)
        if _next_cycle(side.conn):
            self._probed = False
        return [piece]

    def _closed(self, side: _Side, event: h11.Event, now: float) -> list[Piece]:
        return []

    # -- pieces ----------------------------------------------------------------

    def _piece(self, side: _Side, now: float, *, final: bool = False) -> Piece:
        """The finished message of ``side``; ``final`` ends its exchange."""
        msg = side.finish(now)
        assert msg.head is not None
        fields = msg.fields()
        if side is self._resp:
            fields += self._pairing(now, final=final)
        return Piece(
            sender=side.sender,
            time=now,
            summary=hf.summary(msg.head),
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

    def _malformed(self, side: _Side, exc: Exception, now: float, data: bytes = b"") -> Piece:
        """What was seen of a message h11 rejected; the side reads raw chunks from now on.

        ``data`` is a chunk its fallback dissector failed on, if that is what broke.
        """
        reason = str(exc) if isinstance(exc, h11.ProtocolError) else f"{type(exc).__name__}: {exc}"
        msg = _Message() if side.fallback is not None else _give_up(side)
        msg.take(data)
        side.fallback = RawDissector()
        if side is self._resp:
            self._release_requests()
        return Piece(
            sender=side.sender,
            time=now,
            summary=f"malformed {side.noun}: {reason}",
            raw=bytes(msg.raw),
            size=msg.size,
            fields=(*msg.fields(), ("error", reason)),
            truncated=msg.size > len(msg.raw),
            malformed=True,
        )

    def _release_requests(self) -> None:
        """The responses went unreadable: a request waiting on a 101 will not see one."""
        self._exchanges.clear()
        conn = self._req.conn
        if self._req.fallback is None and conn.our_state is h11.SEND_RESPONSE:
            with suppress(h11.ProtocolError):
                _stand_in_response(conn)
                _next_cycle(conn)

    def _incomplete(self, side: _Side, now: float) -> Piece:
        """A message the connection's end cut short."""
        msg = _give_up(side)
        if msg.head is None:
            summary = f"incomplete {side.noun}: head cut off after {msg.size} bytes"
        else:
            expected = hf.content_length(msg.head)
            of = "" if expected is None else f" of {expected}"
            summary = f"incomplete {side.noun}: {msg.body_length}{of} body bytes"
        fields = msg.fields()
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

    def _close_side(self, side: _Side, now: float) -> list[Piece]:
        """Tell h11 the stream ended: a body-until-close completes, anything else is cut."""
        pieces: list[Piece] = []
        with suppress(Exception):  # h11 saying "cut short" is what _incomplete reports
            side.conn.receive_data(b"")
            self._read(side, now, pieces)
        if side.fallback is None and side.half:
            pieces.append(self._incomplete(side, now))
        return pieces

    def _switch(self, side: _Side, now: float) -> list[Piece]:
        """The response that switches protocols, then both directions' bytes after it.

        From here on both directions go to ``self._upgraded``.
        """
        token = (self._exchanges[0].switch if self._exchanges else None) or "raw"
        pieces = [self._piece(side, now, final=True)]
        upgraded = self._upgraded = UPGRADES.get(token, RawDissector)()
        for each in (self._req, self._resp):
            if each.msg.head is not None:  # a request whose body was still coming
                pieces.append(self._incomplete(each, now))
            each.settle()
            leftover = bytes(each.unread)
            each.unread.clear()
            each.fallback = upgraded
            pieces += upgraded.feed(each.sender, leftover, now) if leftover else []
        return pieces


def _give_up(side: _Side) -> _Message:
    """The current message with every byte not yet counted, and a fresh one in its place."""
    with suppress(Exception):  # a parser in a bad state: count the rest as unread
        side.settle()
    return side.finish(0.0, rest=True)


def _stand_in_response(conn: h11.Connection) -> None:
    """Let a request parser finish its cycle without the real response."""
    conn.send(h11.Response(status_code=204, headers=[]))
    conn.send(h11.EndOfMessage())


def _next_cycle(conn: h11.Connection) -> bool:
    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
        conn.start_next_cycle()
        return True
    return False


_REQUEST: dict[type[h11.Event], Handler] = {
    h11.Request: HttpDissector._request_head,
    h11.Data: HttpDissector._body,
    h11.EndOfMessage: HttpDissector._request_end,
    h11.ConnectionClosed: HttpDissector._closed,
}
_RESPONSE: dict[type[h11.Event], Handler] = {
    h11.InformationalResponse: HttpDissector._informational,
    h11.Response: HttpDissector._response_head,
    h11.Data: HttpDissector._body,
    h11.EndOfMessage: HttpDissector._response_end,
    h11.ConnectionClosed: HttpDissector._closed,
}

register("http", HttpDissector)
