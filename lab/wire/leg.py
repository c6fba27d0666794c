"""One socket of a relayed TCP connection: reads pause for several reasons at once,
a reset closes with RST, and it counts what it passed on and what its peer got.

What a Leg can know of the bytes it writes: ``written`` is what it handed to its
transport. Closed in good order, asyncio first hands the kernel all of it and the
kernel goes on sending it after the close, so all of it is on its way. Ended by a
reset (the peer's, or the Wire's own), asyncio and the kernel throw away what they
still held: then what was passed to the network is what the kernel sent (Linux's
TCP_INFO ``tcpi_bytes_sent`` less ``tcpi_bytes_retrans``, read before the socket
closes: ``sent``), of which the peer's TCP acknowledged ``acked``; a byte sent and
not acknowledged may or may not have reached it, and of what it acknowledged the
Wire cannot know how much the peer's program read. None: the system does not say."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
from typing import Any, Protocol

from lab.model import Sender

#: asyncio reads up to 256 KiB at once; 256 KiB of pipelined tiny commands are some
#: 40,000 messages, most of a second of dissecting, and every other connection would
#: wait for it. So on a socket whose last read was dense (MANY messages or more per
#: SLICE of bytes), a larger read goes on a SLICE per turn of the event loop, the socket
#: not read meanwhile, until a slice is no longer dense; a bulk transfer's reads (one
#: message, or part of one) go on whole, as they come.
SLICE = 8 * 1024
MANY = 64
#: Bytes the Wire wrote toward one peer that the kernel may hold unsent (see ``cap_unsent``).
UNSENT_LIMIT = 256 * 1024
#: Where ``tcpi_bytes_acked`` (Linux 4.1), ``tcpi_bytes_sent`` and
#: ``tcpi_bytes_retrans`` (Linux 4.19) sit in Linux's ``struct tcp_info``.
_ACKED_AT, _SENT_AT, _RETRANS_AT = 120, 200, 208


def cap_unsent(sock: Any, limit: int | None = None) -> None:
    """Let the kernel hold at most ``limit`` bytes written on ``sock`` and not yet sent.

    Toward a peer that does not read, its receive window closes and what the Wire
    writes waits unsent in the Wire's socket, which Linux grows to 4 MiB (tcp_wmem):
    the Wire would read, capture and keep that much from the other side for each such
    peer. Past ``limit`` the socket takes no more (TCP_NOTSENT_LOWAT), asyncio's
    buffer passes its 64 KiB mark, ``pause_writing`` pauses reading the other side,
    and TCP's flow control holds the sender back in its own kernel. Bytes in flight
    are not counted, so a fast or distant peer that reads keeps the full window; a
    peer that does not read holds at most its receive buffer more. 256 KiB holds a
    whole read of asyncio's (what the Wire writes at once). Where the system has no
    such option the socket's whole send buffer is capped instead (SO_SNDBUF)."""
    limit = UNSENT_LIMIT if limit is None else limit
    if sock is None or not limit:
        return
    lowat = getattr(socket, "TCP_NOTSENT_LOWAT", None)
    with contextlib.suppress(OSError):
        if lowat is not None:
            sock.setsockopt(socket.IPPROTO_TCP, lowat, limit)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limit)


def sent_and_acked(sock: Any) -> tuple[int | None, int | None]:
    """Bytes the kernel sent on ``sock`` (each once) and bytes the peer's TCP
    acknowledged; None where the system does not say (not Linux, an old kernel)."""
    if sock is None or not sys.platform.startswith("linux") or \
            not hasattr(socket, "TCP_INFO"):
        return None, None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except (OSError, ValueError):
        return None, None
    acked = struct.unpack_from("=Q", info, _ACKED_AT)[0] if len(info) >= _ACKED_AT + 8 \
        else None
    if len(info) < _RETRANS_AT + 8:
        return None, acked
    sent, again = struct.unpack_from("=QQ", info, _SENT_AT)
    return max(0, sent - again), acked


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
        #: Bytes handed to this socket's transport (what the other side sent, passed on).
        self.written = 0
        #: Ended by a reset (the peer's or the Wire's): the kernel dropped what it held.
        self.cut = False
        #: Why it was cut, for the capture's note ("" while it was not).
        self.why = ""
        #: Cut by the Wire itself (a reset fault, a drop, a stop), which notes it already.
        self.own = False
        #: Of ``written``, once the socket is gone, what was passed to the network and
        #: what the peer's TCP acknowledged (see the module's doc); None: not known.
        self.sent: int | None = None
        self.acked: int | None = None

    def shortfall(self, owed: int) -> tuple[int, int, int | None, str]:
        """Of ``owed`` bytes the Wire took in for this socket's peer (as it would write
        them), once the socket is gone: how many never left the Wire, how many were
        passed to the network and may not have reached the peer, what the peer's TCP
        acknowledged before a reset (None: not known, or no reset), and why."""
        who = self.sender.value
        if self.transport is None:
            return owed, 0, None, self.why or f"the {who} was never reached"
        why = self.why or f"the connection to the {who} closed before they could be written"
        if self.sent is None:  # cut, and the system does not say what was sent
            return owed - self.written, self.written, None, why
        acked = self.acked if self.cut else None
        return owed - self.sent, 0 if acked is None else self.sent - acked, acked, why

    def send(self, data: bytes) -> None:
        """Hand ``data`` to the socket, counting it."""
        assert self.transport is not None
        self.transport.write(data)
        self.written += len(data)

    def abort(self, why: str = "the Wire cut the connection") -> None:
        """Close at once: what is buffered is dropped."""
        if self.transport is not None and not self.lost:
            self.cut, self.why, self.own = True, self.why or why, True
            self.transport.abort()

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
        self.cut, self.why = True, self.why or "the Wire reset the connection"
        self.own = True
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        cap_unsent(transport.get_extra_info("socket"))
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
        if exc is not None and not self.cut:
            who = self.sender.value
            self.cut, self.why = True, f"the {who} had closed the connection (reset)" \
                if isinstance(exc, ConnectionResetError | BrokenPipeError) \
                else f"the connection to the {who} was lost ({exc})"
        if not self.cut:
            self.sent = self.written  # flushed to the kernel, which sends it on
        elif self.transport is not None:  # the socket is closed after this returns
            sent, acked = sent_and_acked(self.transport.get_extra_info("socket"))
            self.sent = None if sent is None else min(sent, self.written)
            self.acked = None if acked is None else min(acked, self.written if sent is None
                                                        else self.sent or 0)
        self.link.lost(self, exc)

    def pause_writing(self) -> None:
        self.link.other(self).pause("write")

    def resume_writing(self) -> None:
        self.link.other(self).resume("write")
