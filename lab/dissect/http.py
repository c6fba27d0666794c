"""The HTTP/1.x dissector: one Piece per request and per response, both directions.

Each direction starts on a fast path (lab/dissect/http_head.py): a plain
HTTP/1.1 keep-alive message, framed by Content-Length or without a body, is read
with one ``find`` for the end of its head and h11's own grammar, without h11.
At its first message that is not plain (chunked, HEAD, 1xx, close, an upgrade,
HTTP/1.0, anything malformed) that direction goes to h11 from the start of that
message and stays there; the Pieces are the same either way
(tests/lab/test_dissect_http_fast.py compares them).

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

import h11

from lab.dissect.base import Dissector, DissectorFactory, register
from lab.dissect.http_head import FAST_HEAD, read_head
from lab.dissect.http_head import Request as FastRequest
from lab.dissect.http_state import (
    MAX_HEAD,
    UNSOLICITED,
    Exchange,
    Message,
    PieceMaker,
    Side,
    check_request,
    give_up,
    persistent,
)
from lab.dissect.raw import RawDissector
from lab.model import Piece, Sender

__all__ = ["MAX_HEAD", "UPGRADES", "HttpDissector"]

#: Who dissects a connection after a protocol switch, by the lower-cased Upgrade
#: token ("connect" for a CONNECT tunnel). The WebSocket dissector adds itself here.
UPGRADES: dict[str, DissectorFactory] = {}

Handler = Callable[["HttpDissector", Side, h11.Event, float], list[Piece]]


class HttpDissector(PieceMaker):
    """HTTP/1.x in both directions of one TCP connection. Feed bytes; take Pieces."""

    def __init__(self, *, fast: bool = True) -> None:
        """``fast=False`` reads everything with h11 (the fast path's reference)."""
        self._req = Side(Sender.CLIENT, "request", h11.SERVER)
        self._resp = Side(Sender.SERVER, "response", h11.CLIENT)
        if not fast:
            self._req.to_h11()
            self._resp.to_h11()
        self._exchanges: deque[Exchange] = deque()
        self._probed = False  # the response parser has been sent _exchanges[0]
        #: The exchange of the newest request read, and the one whose answer kept the
        #: connection although h11 would close it (an HTTP/1.0 keep-alive).
        self._last: Exchange | None = None
        self._kept: Exchange | None = None
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

    def _read(self, side: Side, now: float, pieces: list[Piece]) -> bool:
        """Handle the events h11 has for ``side``; True if there were any."""
        conn = side.conn
        if conn is None:
            return self._read_fast(side, now, pieces)
        handlers = _REQUEST if side is self._req else _RESPONSE
        moved = False
        while side.fallback is None:
            if side is self._resp:
                self._probe()
            elif conn.their_state is h11.MUST_CLOSE and conn.trailing_data[0]:
                if self._kept is not None and self._kept is self._last:
                    self._kept = None
                    side.to_h11()  # an HTTP/1.0 keep-alive both ends agreed to
                    conn = _conn(side)
                elif any(e is self._last for e in self._exchanges):
                    break  # whether the connection persists: its response will say
                else:
                    raise h11.RemoteProtocolError(
                        "sent after a request that ends the connection (RFC 9112 §9.3): "
                        "the server does not read it as a request")
            event = conn.next_event()
            if not isinstance(event, h11.Event):  # NEED_DATA or PAUSED
                break
            moved = True
            pieces += handlers[type(event)](self, side, event, now)
            if isinstance(event, h11.ConnectionClosed):
                break
        if side.fallback is None:
            side.settle()  # keeps memory bounded: a body's bytes are counted, not kept
        return moved

    def _read_fast(self, side: Side, now: float, pieces: list[Piece]) -> bool:
        """Read whole plain messages without h11 (lab/dissect/http_head.py); at the
        first message that is not plain, hand ``side`` to h11 from its start."""
        moved = False
        unread = side.unread
        while True:
            msg = side.msg
            if msg.head is None:
                if not unread:
                    return moved
                if not self._plain(side):
                    return self._to_h11(side, now, pieces) or moved
                end = unread.find(b"\r\n\r\n", 0, FAST_HEAD)
                if end < 0:
                    if len(unread) < FAST_HEAD and unread[0] > 0x20 and b"\n" not in unread:
                        return moved  # the head's end is still to come
                    return self._to_h11(side, now, pieces) or moved
                head = bytes(unread[:end])
                parsed = None
                if unread[0] > 0x20 and head.count(b"\n") == head.count(b"\r\n"):
                    parsed = read_head(head, request=side is self._req)
                if parsed is None:
                    return self._to_h11(side, now, pieces) or moved
                side.consume(end + 4)
                msg.head, msg.remaining = parsed
                moved = True
                if side is self._req and self._resp.fallback is None:
                    assert isinstance(msg.head, FastRequest)
                    started = now if msg.started is None else msg.started
                    msg.exchange = self._last = Exchange.of(msg.head, started)
                    self._exchanges.append(msg.exchange)
            if msg.remaining:
                if not unread:
                    return moved
                taken = side.consume(msg.remaining)
                msg.add_body(taken)
                msg.remaining -= len(taken)
                if msg.remaining:
                    return moved
            if side is self._resp:
                pieces += self._answer(now, final=True)
            else:
                pieces.append(self._piece(side, now, final=True))
            moved = True

    def _plain(self, side: Side) -> bool:
        """A response may be read fast only for a plain request seen before it (h11
        pairs a response that comes first with no request)."""
        return side is self._req or bool(self._exchanges) and self._exchanges[0].plain

    def _to_h11(self, side: Side, now: float, pieces: list[Piece]) -> bool:
        side.to_h11()
        if side is self._resp:
            self._probed = False
        return self._read(side, now, pieces)

    def _probe(self) -> None:
        """Tell the response parser about the request its next response answers."""
        conn = self._resp.conn
        if conn is None or self._probed or conn.our_state is not h11.IDLE:
            return
        if not self._exchanges:
            if not self._resp.unread:
                return
            self._exchanges.append(UNSOLICITED)
        conn.send(self._exchanges[0].probe())
        conn.send(h11.EndOfMessage())
        self._probed = True

    # -- events ----------------------------------------------------------------

    def _request_head(self, side: Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.Request)
        check_request(side, event)
        side.msg.head = event
        started = side.msg.started
        exchange = Exchange.of(event, now if started is None else started)
        side.msg.exchange = self._last = exchange
        if self._resp.fallback is None:
            self._exchanges.append(exchange)
        if exchange.switch is None or self._resp.fallback is not None:
            _stand_in_response(_conn(side))  # with no response parser, no 101 can be seen
        return []

    def _body(self, side: Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.Data)
        side.msg.add_body(event.data)
        return []

    def _request_end(self, side: Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.EndOfMessage)
        side.msg.trailers = event.headers.raw_items()
        piece = self._piece(side, now)
        _next_cycle(_conn(side))
        return [piece]

    def _informational(self, side: Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.InformationalResponse)
        side.msg.head = event
        if _conn(side).their_state is h11.SWITCHED_PROTOCOL:
            return self._switch(side, now)
        return self._answer(now)

    def _response_head(self, side: Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.Response)
        side.msg.head = event
        if _conn(side).their_state is h11.SWITCHED_PROTOCOL:  # a 2xx to CONNECT
            return self._switch(side, now)
        return []

    def _response_end(self, side: Side, event: h11.Event, now: float) -> list[Piece]:
        assert isinstance(event, h11.EndOfMessage)
        side.msg.trailers = event.headers.raw_items()
        exchange = self._exchanges[0] if self._exchanges else None
        head = side.msg.head
        assert head is not None
        pieces = self._answer(now, final=True)
        conn = self._req.conn
        kept = exchange is not None and exchange.persist and persistent(head)
        if exchange is not None and exchange.switch is not None and self._req.fallback is None \
                and conn is not None and conn.our_state is h11.SEND_RESPONSE:
            # the switch was refused: read requests on, unless the server closes
            _stand_in_response(conn, close=not kept)
            _next_cycle(conn)
        if _next_cycle(_conn(side)):
            self._probed = False
        elif kept and _conn(side).their_state is h11.MUST_CLOSE:
            side.to_h11()  # HTTP/1.0 keep-alive, which h11 does not follow
            self._probed = False
        if kept and conn is not None and exchange is self._last:
            self._kept = exchange  # the request parser goes on too (see _read)
        return pieces

    def _closed(self, side: Side, event: h11.Event, now: float) -> list[Piece]:
        return []

    # -- pieces ----------------------------------------------------------------

    def _malformed(self, side: Side, exc: Exception, now: float, data: bytes = b"") -> Piece:
        """What was seen of a message h11 rejected; the side reads raw chunks from now on.

        ``data`` is a chunk its fallback dissector failed on, if that is what broke.
        """
        reason = str(exc) if isinstance(exc, h11.ProtocolError) else f"{type(exc).__name__}: {exc}"
        msg = Message() if side.fallback is not None else give_up(side)
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
        if self._req.fallback is None and conn is not None and conn.our_state is h11.SEND_RESPONSE:
            with suppress(h11.ProtocolError):
                _stand_in_response(conn)
                _next_cycle(conn)

    def _close_side(self, side: Side, now: float) -> list[Piece]:
        """Tell h11 the stream ended: a body-until-close completes, anything else is cut."""
        pieces: list[Piece] = []
        if side.conn is not None:  # the fast path never waits for the end of a stream
            with suppress(Exception):  # h11 saying "cut short" is what _incomplete reports
                side.conn.receive_data(b"")
                self._read(side, now, pieces)
        msg = side.msg
        if msg.apart is not None and not msg.size and not side.unread:
            return pieces  # the rest of a body that never came: nothing crossed
        if side.fallback is None and side.half:
            pieces.append(self._incomplete(side, now))
        return pieces

    def _switch(self, side: Side, now: float) -> list[Piece]:
        """The response that switches protocols, then both directions' bytes after it.

        From here on both directions go to ``self._upgraded``.
        """
        token = (self._exchanges[0].switch if self._exchanges else None) or "raw"
        pieces = self._answer(now, final=True)
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


def _conn(side: Side) -> h11.Connection:
    assert side.conn is not None  # h11's events come only from h11
    return side.conn


def _stand_in_response(conn: h11.Connection, *, close: bool = False) -> None:
    """Let a request parser finish its cycle without the real response (one that
    ends the connection if ``close``)."""
    conn.send(h11.Response(status_code=204, headers=[(b"connection", b"close")] if close else []))
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
