"""One socket of a relayed TCP connection: reads pause for several reasons at once,
and a reset closes with RST."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import TYPE_CHECKING

from lab.model import Sender

if TYPE_CHECKING:
    from lab.wire_link import _TcpLink


class _Leg(asyncio.Protocol):
    """One socket of a TCP link; ``sender`` is who sends the bytes it receives.

    Reading pauses for several reasons at once (the upstream connection is not up
    yet, the other socket cannot keep up, the Outbox is full, a chunk is held);
    it resumes when none is left."""

    def __init__(self, link: _TcpLink, sender: Sender) -> None:
        self.link = link
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.lost = False
        self.pauses: set[str] = set()

    def pause(self, reason: str) -> None:
        if not self.pauses and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self.pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self.pauses:
            return
        self.pauses.discard(reason)
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
        self.link.received(self, data)

    def eof_received(self) -> bool:
        self.link.eof(self)
        return True  # keep the socket open: the other direction may still flow

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.link.lost(self, exc)

    def pause_writing(self) -> None:
        self.link.other(self).pause("write")

    def resume_writing(self) -> None:
        self.link.other(self).resume("write")
