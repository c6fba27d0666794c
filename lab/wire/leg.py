"""One socket of a relayed TCP connection: reads pause for several reasons at once,
and a reset closes with RST."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Protocol

from lab.model import Sender

#: asyncio reads up to 256 KiB at once; 256 KiB of pipelined tiny commands are some
#: 40,000 messages, most of a second of dissecting, and every other connection would
#: wait for it. So on a socket whose last read was dense (MANY messages or more per
#: SLICE of bytes), a larger read goes on a SLICE per turn of the event loop, the socket
#: not read meanwhile, until a slice is no longer dense; a bulk transfer's reads (one
#: message, or part of one) go on whole, as they come.
SLICE = 8 * 1024
MANY = 64


class LegOwner(Protocol):
    """What a Leg tells its link (lab/wire/link.py: ``_TcpLink``)."""

    def leg_made(self, leg: _Leg) -> None: ...

    def received(self, leg: _Leg, data: bytes) -> int: ...

    def eof(self, leg: _Leg) -> None: ...

    def lost(self, leg: _Leg, exc: Exception | None) -> None: ...

    def other(self, leg: _Leg) -> _Leg: ...


class _Leg(asyncio.Protocol):
    """One socket of a TCP link; ``sender`` is who sends the bytes it receives.

    Reading pauses for several reasons at once (the upstream connection is not up
    yet, the other socket cannot keep up, the Outbox is full, a chunk is held);
    it resumes when none is left."""

    def __init__(self, link: LegOwner, sender: Sender) -> None:
        self.link = link
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.lost = False
        self.pauses: set[str] = set()
        self._rest = b""  # a large read, relayed a slice a turn from ``_at`` on
        self._at = 0
        self._waiting = False  # a slice waits for the other pauses to end
        self._dense = True  # the last read made MANY messages or more per SLICE (a first
        # large read is looked at a slice first)

    def pause(self, reason: str) -> None:
        if not self.pauses and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self.pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self.pauses:
            return
        self.pauses.discard(reason)
        if self._waiting and self.pauses == {"slice"}:  # the rest of a large read goes on
            self._waiting = False
            asyncio.get_running_loop().call_soon(self._next_slice)
        if not self.pauses and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def reset(self) -> None:
        """Close with a TCP reset (RST), not a FIN: the peer sees 'connection reset'."""
        if self.transport is None or self.lost:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.link.leg_made(self)

    def data_received(self, data: bytes) -> None:
        if self._rest:  # still slicing an earlier read: after it
            self._rest = self._rest[self._at:] + data
            self._at = 0
            return
        if len(data) <= SLICE or not self._dense:
            self._relay(data)
            return
        self._rest, self._at = data, 0
        self.pause("slice")
        self._next_slice()

    def _relay(self, data: bytes) -> None:
        made = self.link.received(self, data)
        self._dense = made * SLICE >= MANY * len(data)

    def _take(self, size: int = SLICE) -> bytes:
        """The next ``size`` bytes of the large read (``_rest`` is empty once all are)."""
        chunk = self._rest[self._at:self._at + size]
        self._at += len(chunk)
        if self._at >= len(self._rest):
            self._rest, self._at = b"", 0
        return chunk

    def _next_slice(self) -> None:
        if self.pauses - {"slice"}:  # held, or the other side is full: on resume
            self._waiting = True
            return
        if self._rest:
            self._relay(self._take())
        if self._rest and not self._dense and self.pauses == {"slice"}:  # the rest at once
            self._relay(self._take(len(self._rest)))
        if self._rest:
            asyncio.get_running_loop().call_soon(self._next_slice)
        else:
            self.resume("slice")

    def _drain_slices(self) -> None:
        """Relay what is left of a large read at once (the connection is ending)."""
        if self._rest:
            self.link.received(self, self._take(len(self._rest)))

    def eof_received(self) -> bool:
        self._drain_slices()
        self.link.eof(self)
        return True  # keep the socket open: the other direction may still flow

    def connection_lost(self, exc: Exception | None) -> None:
        self._drain_slices()
        self.lost = True
        self.link.lost(self, exc)

    def pause_writing(self) -> None:
        self.link.other(self).pause("write")

    def resume_writing(self) -> None:
        self.link.other(self).resume("write")
