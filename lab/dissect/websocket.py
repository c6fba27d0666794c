"""The WebSocket dissector: one Piece per frame, in both directions.

A Wire whose protocol is ``websocket`` dissects with the HTTP dissector, which
shows the upgrade request and its ``101 Switching Protocols`` and then hands both
directions to ``WebSocketDissector`` (registered in ``http.UPGRADES``).

Frames are read by websockets' own sans-IO parser (``Frame.parse`` over a
``StreamReader``), one per direction: client frames must be masked, server frames
must not. Each frame is one Piece whose ``raw`` is the frame as it crossed; the
fields (see :mod:`lab.dissect.ws_frames`) give its header, the masking key and
the unmasked payload (a bounded prefix). Each frame of a fragmented message is its
own Piece, and the last one carries the whole message, reassembled (bounded).

- Memory per direction stays about one frame of LARGE_FRAME (= RAW_LIMIT) bytes:
  websockets' reader is handed at most FEED_STEP bytes at a time, and a frame's
  bytes are held once (in the reader's buffer, then as the chunks its parser
  read), not copied aside as well. A frame longer than LARGE_FRAME is not
  buffered: once websockets' parser has checked its header, its bytes are
  counted as they pass and its Piece keeps a RAW_LIMIT prefix (flag
  ``truncated``), as a buffered frame's Piece would.
- RSV1 set (permessage-deflate) is let through and noted; the payload is not
  inflated, so it is shown as hex.
- What breaks the protocol (a bad opcode, an unmasked client frame, a bad close
  code, a continuation with no message to continue…) becomes one ``malformed``
  Piece; that direction is then shown as raw chunks. ``feed`` and ``close`` never
  raise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TypeAlias

from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.extensions.base import Extension
from websockets.frames import CTRL_OPCODES, Frame, Opcode
from websockets.streams import StreamReader
from websockets.typing import ExtensionName

from lab.dissect import ws_frames as wf
from lab.dissect.base import Dissector, register
from lab.dissect.http import UPGRADES, HttpDissector
from lab.dissect.raw import RawDissector
from lab.model import RAW_LIMIT, Piece, Sender

#: Frames with a longer payload are counted as they pass, not buffered whole: a
#: Piece keeps no more than RAW_LIMIT bytes of a frame anyway.
LARGE_FRAME = RAW_LIMIT
#: Bytes handed to websockets' reader at a time (a chunk from the Wire may be larger).
FEED_STEP = RAW_LIMIT

Bytes: TypeAlias = bytes | bytearray | memoryview


class _LetRsv1Through(Extension):
    """Accepts frames with RSV1 set (permessage-deflate) without inflating them, so
    that websockets' parser does not reject them; the dissector notes them instead."""

    name = ExtensionName("permessage-deflate")

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        return dataclasses.replace(frame, rsv1=False) if frame.rsv1 else frame


_EXTENSIONS = [_LetRsv1Through()]


@dataclass(slots=True)
class _Large:
    """A frame too long to buffer: the bytes seen of it (``raw``, bounded) and counts."""

    total: int  # header, key and payload
    raw: bytearray
    seen: int

    def take(self, data: Bytes) -> int:
        """Count what belongs to this frame at the start of ``data``; how many bytes."""
        n = min(self.total - self.seen, len(data))
        room = RAW_LIMIT - len(self.raw)
        if room > 0:
            self.raw += data[:min(n, room)]
        self.seen += n
        return n


@dataclass(slots=True)
class _Direction:
    """One direction's parser and state. Bytes not yet part of a Piece are, in order:
    ``reads`` (what the parser has read of the frame it is parsing), the ``reader``'s
    buffer, and (during ``feed``) the rest of the chunk not handed to the reader yet."""

    sender: Sender
    mask: bool
    reader: StreamReader = field(default_factory=StreamReader)
    parser: Generator[None, None, Frame] | None = None
    reads: list[bytearray] = field(default_factory=list)
    large: _Large | None = None
    message: wf.Reassembly | None = None
    fallback: Dissector | None = None

    def feed(self, data: bytes, now: float, pieces: list[Piece]) -> None:
        rest = memoryview(data)
        while self.fallback is None:
            try:
                if self.large is not None:
                    if not rest and not self.reader.buffer:
                        return
                    rest = self._count(rest, now, pieces)
                elif not self._parse(now, pieces):  # the frame needs more bytes
                    if not rest:
                        return
                    self.reader.feed_data(bytes(rest[:FEED_STEP]))
                    rest = rest[FEED_STEP:]
            except Exception as exc:  # the Wire must keep forwarding whatever happens
                pieces.append(self.broken(exc, now, rest))
                return
        if rest:
            pieces += self.fallback.feed(self.sender, bytes(rest), now)

    def _read_exact(self, n: int) -> Generator[None, None, bytearray]:
        """The reader's ``read_exact``, keeping what it read for the frame's Piece."""
        data = yield from self.reader.read_exact(n)
        self.reads.append(data)
        return data

    def _parse(self, now: float, pieces: list[Piece]) -> bool:
        """Go on parsing a frame from the reader's buffer: True when it is parsed (a
        Piece, or a large frame to count from now on), False if it needs more bytes."""
        if self.parser is None:
            if not self.reader.buffer:
                return False
            self.parser = Frame.parse(self._read_exact, mask=self.mask,
                                      max_size=LARGE_FRAME, extensions=_EXTENSIONS)
        try:
            next(self.parser)
            return False
        except StopIteration as done:
            self.parser = None
            pieces.append(self._piece(done.value, b"".join(self.reads), now))
            self.reads.clear()  # after: a frame out of sequence is shown as malformed
        except PayloadTooBig:
            self.parser = None
            self._start_large()
        return True

    def _start_large(self) -> None:
        """The parser checked a large frame's header: count the frame from here on."""
        header = b"".join(self.reads)
        opcode = Opcode(header[0] & 0x0F)
        if opcode in CTRL_OPCODES:
            raise ProtocolError(f"{wf.NAMES[opcode]} frame too long (over 125 bytes)")
        self._check_sequence(opcode)
        total = wf.header_length(header[1]) + _declared_length(header)
        self.large = _Large(total=total, raw=bytearray(header), seen=len(header))
        self.reads.clear()

    def _count(self, rest: memoryview, now: float, pieces: list[Piece]) -> memoryview:
        """Count the large frame's bytes, the reader's first; return what is left of
        ``rest``."""
        large = self.large
        assert large is not None
        buffered = self.reader.buffer
        if buffered:
            del buffered[:large.take(buffered)]
        if not buffered:
            rest = rest[large.take(rest):]
        if large.seen == large.total:
            pieces.append(self._large_piece(large, now, whole=True))
            self.large = None
        return rest

    # -- pieces ----------------------------------------------------------------

    def _piece(self, frame: Frame, raw: bytes, now: float) -> Piece:
        head = wf.read_head(raw[:wf.header_length(raw[1])], len(frame.data))
        summary, fields = self._describe(head, bytes(frame.data), whole=True)
        return Piece(sender=self.sender, time=now, summary=summary, raw=raw[:RAW_LIMIT],
                     size=len(raw), fields=tuple(fields), truncated=len(raw) > RAW_LIMIT)

    def _large_piece(self, large: _Large, now: float, *, whole: bool) -> Piece:
        raw = bytes(large.raw)
        size = wf.header_length(raw[1])
        head = wf.read_head(raw[:size], large.total - size)
        payload = wf.unmask(raw[size:size + wf.PAYLOAD_PREVIEW], head.key)
        summary, fields = self._describe(head, payload, whole=False)
        if not whole:
            summary = (f"incomplete {head.name} frame: {large.seen} of {large.total} bytes "
                       "before the connection ended")
        return Piece(sender=self.sender, time=now, summary=summary, raw=raw, size=large.seen,
                     fields=tuple(fields), truncated=True)

    def _describe(self, head: wf.Head, payload: bytes, *, whole: bool) -> tuple[str, wf.FieldList]:
        if head.opcode in CTRL_OPCODES:
            return wf.control(head, payload)
        self._check_sequence(head.opcode)
        message = self.message
        if message is None and not head.fin:
            message = self.message = wf.Reassembly(head.opcode, head.rsv1)
        if message is not None:
            message.add(payload, head.length)
        if head.fin:
            self.message = None
        return wf.data_frame(head, payload, message, whole=whole)

    def _check_sequence(self, opcode: Opcode) -> None:
        if opcode is Opcode.CONT and self.message is None:
            raise ProtocolError("a CONTINUATION frame with no fragmented message to continue")
        if opcode is not Opcode.CONT and self.message is not None:
            raise ProtocolError(f"a new {wf.NAMES[opcode]} message before the fragmented "
                                "one ended")

    def broken(self, exc: Exception, now: float, rest: Bytes = b"") -> Piece:
        """What was left of this direction when it broke the protocol (``rest``: the
        bytes fed after that); raw from now on."""
        if self.large is not None:
            raw, size = bytearray(self.large.raw), self.large.seen
        else:
            raw = bytearray(b"".join(self.reads))
            size = len(raw)
        for more in (self.reader.buffer, rest):
            raw += more[:max(0, RAW_LIMIT - len(raw))]
            size += len(more)
        reason = str(exc) if isinstance(exc, ProtocolError) else f"{type(exc).__name__}: {exc}"
        self.fallback = RawDissector()
        self.large, self.parser, self.message = None, None, None
        self.reads.clear()
        self.reader.discard()
        noun = "client" if self.mask else "server"
        return Piece(sender=self.sender, time=now, summary=f"malformed {noun} frame: {reason}",
                     raw=bytes(raw[:RAW_LIMIT]), size=size, fields=(("error", reason),
                                                                    ("length", size)),
                     truncated=size > RAW_LIMIT, malformed=True)

    def close(self, now: float) -> list[Piece]:
        if self.fallback is not None:
            return self.fallback.close(now)
        if self.large is not None:
            large, self.large = self.large, None
            return [self._large_piece(large, now, whole=False)]
        size = sum(map(len, self.reads)) + len(self.reader.buffer)
        if size:
            raw = (b"".join(self.reads) + self.reader.buffer)[:RAW_LIMIT]
            self.reads.clear()
            self.reader.discard()
            return [Piece(sender=self.sender, time=now, raw=raw, size=size, truncated=True,
                          summary=f"incomplete frame: the connection ended {wf.plural(size)} "
                                  "into it", fields=(("length", size),))]
        return []


def _declared_length(header: bytes) -> int:
    """The payload length a frame header (without its key) declares."""
    code = header[1] & 0x7F
    if code < 126:
        return code
    return int.from_bytes(header[2:4] if code == 126 else header[2:10], "big")


class WebSocketDissector:
    """WebSocket frames in both directions of one connection, after the upgrade."""

    def __init__(self) -> None:
        self._sides = {Sender.CLIENT: _Direction(Sender.CLIENT, mask=True),
                       Sender.SERVER: _Direction(Sender.SERVER, mask=False)}

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        """Take bytes that crossed from ``sender``; return the frames they complete."""
        side = self._sides[sender]
        pieces: list[Piece] = []
        try:
            side.feed(data, now, pieces)
        except Exception:  # breaking the protocol is handled inside: this is a bug
            side.fallback = RawDissector()
        return pieces

    def close(self, now: float) -> list[Piece]:
        """The connection ended: a frame cut short is shown as incomplete."""
        pieces: list[Piece] = []
        for side in self._sides.values():
            try:
                pieces += side.close(now)
            except Exception:  # a broken side has nothing left to say
                side.fallback = RawDissector()
        return pieces


UPGRADES["websocket"] = WebSocketDissector
register("websocket", HttpDissector)
