"""The Wire: a relay between a client and a server that captures what crosses it.

A TcpWire listens where the user chose and, for each client that connects,
opens a connection to its target and forwards bytes both ways, feeding each
chunk to the connection's dissector first. It is built on asyncio Protocols
(not streams): bytes are forwarded from the callback that received them, and a
peer that cannot keep up pauses reading on the other side (back-pressure), so
memory stays bounded whatever the speeds. Half-close is passed on: an EOF from
one side becomes ``write_eof`` on the other, and the connection ends when both
directions are done or one side vanishes.

A UdpWire (lab/wire_udp.py) does the same for datagrams, with one session per
client address; both are importable from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from lab import dissect
from lab.capture import Capture
from lab.model import Connection, Sender, Transport, format_address
from lab.wire_base import (
    CONNECT_TIMEOUT,
    UDP_IDLE,
    UPSTREAM_KEPT,
    CountCallback,
    PortInUseError,
    _WireBase,
    bind_error,
)
from lab.wire_udp import UdpWire

__all__ = ["CONNECT_TIMEOUT", "HELPERS", "UDP_IDLE", "UPSTREAM_KEPT", "CountCallback",
           "LinkHelper", "PortInUseError", "TcpWire", "UdpWire", "bind_error"]


class LinkHelper(Protocol):
    """Protocol-specific work on a TCP link's bytes (the FTP helper rewrites data
    addresses): it gets every chunk and forwards it with ``link.forward``."""

    def received(self, sender: Sender, data: bytes) -> None: ...

    def flush(self, sender: Sender) -> None: ...

    def close(self) -> None: ...


#: protocol → the helper each of its links gets (lab.ftp_helper registers "ftp").
HELPERS: dict[str, Callable[[_TcpLink], LinkHelper]] = {}


class _Leg(asyncio.Protocol):
    """One socket of a TCP link; ``sender`` is who sends the bytes it receives."""

    def __init__(self, link: _TcpLink, sender: Sender) -> None:
        self.link = link
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.lost = False

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
        other = self.link.other(self)
        if other.transport is not None:
            other.transport.pause_reading()

    def resume_writing(self) -> None:
        other = self.link.other(self)
        if other.transport is not None and not other.transport.is_closing():
            other.transport.resume_reading()


class _TcpLink:
    """A client connection and its upstream connection, relayed and captured."""

    def __init__(self, wire: TcpWire) -> None:
        self.wire = wire
        # ``client`` is the socket the Wire accepted; on a reversed Wire (an FTP
        # active-mode data connection) the server is the one that connects.
        accepted, onward = ((Sender.SERVER, Sender.CLIENT) if wire.reverse
                            else (Sender.CLIENT, Sender.SERVER))
        self.client = _Leg(self, accepted)
        self.server = _Leg(self, onward)
        self.dissector = wire.dissector() if wire.dissector else dissect.make(wire.protocol)
        self.conn: Connection | None = None
        self.note = ""
        self._connecting: asyncio.Task[None] | None = None
        self.helper: LinkHelper | None = None
        if wire.protocol in HELPERS:
            self.helper = HELPERS[wire.protocol](self)

    def other(self, leg: _Leg) -> _Leg:
        return self.server if leg is self.client else self.client

    def leg_made(self, leg: _Leg) -> None:
        if leg is not self.client:
            return
        assert leg.transport is not None
        peer = leg.transport.get_extra_info("peername")
        if not peer:  # reset before we could look: nothing to relay
            leg.transport.abort()
            return
        ends = (format_address(*peer[:2]), self.wire.public_address)
        client, server = ends[::-1] if self.wire.reverse else ends
        self.conn = self.wire.capture.open(
            protocol=self.wire.protocol,
            transport=Transport.TCP,
            client=client,
            server=server,
            parent=self.wire.parent,
            node=self.wire.node,
        )
        if self.wire.one_shot:
            self.wire.stop_listening()
        self.wire.link_opened(self)
        leg.transport.pause_reading()  # until the upstream connection is up
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.wire.target
        assert self.conn is not None
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self.server, host, port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            why = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
            self.note = f"server {format_address(host, port)} unreachable: {why}"
            self.wire.upstream_done(self.conn.client, self.note)
            if self.client.transport is not None:
                self.client.transport.close()
            return
        self.wire.upstream_done(self.conn.client, "")
        if self.client.lost:
            self._close_leg(self.server)
        elif self.client.transport is not None:
            self.client.transport.resume_reading()

    def received(self, leg: _Leg, data: bytes) -> None:
        conn = self.conn
        assert conn is not None
        capture = self.wire.capture
        now = capture.clock()
        if self.helper is not None:
            self.helper.received(leg.sender, data)  # it forwards, maybe rewritten
        else:
            self.forward(leg.sender, data)  # first: dissecting must not add to the wait
        for piece in self.dissector.feed(leg.sender, data, now):
            capture.add(conn, piece)

    def forward(self, sender: Sender, data: bytes) -> None:
        """Send ``data`` on to the other side of whoever sent it."""
        leg = self.client if self.client.sender is sender else self.server
        target = self.other(leg).transport
        if target is not None and not target.is_closing():
            target.write(data)

    def eof(self, leg: _Leg) -> None:
        leg.eof = True
        if self.helper is not None:
            self.helper.flush(leg.sender)
        other = self.other(leg)
        if other.eof or other.transport is None:
            self._close_both()
            return
        if other.transport.can_write_eof() and not other.transport.is_closing():
            other.transport.write_eof()

    def lost(self, leg: _Leg, exc: Exception | None) -> None:
        if exc is not None and not self.note:
            who = "client" if leg.sender is Sender.CLIENT else "server"
            self.note = f"{who} connection lost: {exc}"
        other = self.other(leg)
        if other.transport is not None and not other.lost:
            self._close_leg(other)
        if self.client.lost and (self.server.lost or self.server.transport is None):
            self._finish()

    def _close_leg(self, leg: _Leg) -> None:
        if leg.transport is not None and not leg.transport.is_closing():
            leg.transport.close()

    def _close_both(self) -> None:
        self._close_leg(self.client)
        self._close_leg(self.server)

    def abort(self) -> None:
        for leg in (self.client, self.server):
            if leg.transport is not None:
                leg.transport.abort()
        if self._connecting is not None:
            self._connecting.cancel()

    def _finish(self) -> None:
        if self.conn is None or self.conn.closed is not None:
            return
        capture = self.wire.capture
        for piece in self.dissector.close(capture.clock()):
            capture.add(self.conn, piece)
        self.conn = capture.close(self.conn.id, self.note)
        if self.helper is not None:
            self.helper.close()
        self.wire.link_closed(self)


class TcpWire(_WireBase):
    """A TCP relay from ``listen`` to ``target`` that captures every connection."""

    def __init__(self, capture: Capture, **kwargs: Any) -> None:
        super().__init__(capture, **kwargs)
        #: How each connection's upstream attempt ended ("" = connected), by client
        #: address, for a lab client that must know (see ``upstream_result``).
        self._upstream: dict[str, asyncio.Future[str]] = {}
        self._server: asyncio.Server | None = None
        self.links: set[_TcpLink] = set()
        self._idle = asyncio.Event()
        self._idle.set()  # no links yet: stop() before or after a failed start returns at once

    async def start(self) -> None:
        """Bind and listen; PortInUseError with a clear message if the port is taken."""
        loop = asyncio.get_running_loop()
        host, port = self.listen
        try:
            self._server = await loop.create_server(
                lambda: _TcpLink(self).client, host, port, reuse_address=True
            )
        except OSError as exc:
            raise bind_error(exc, host, port) from None
        self.address = self._server.sockets[0].getsockname()[:2]

    def _upstream_future(self, client: str) -> asyncio.Future[str]:
        future = self._upstream.get(client)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._upstream[client] = future
            while len(self._upstream) > UPSTREAM_KEPT:
                del self._upstream[next(iter(self._upstream))]
        return future

    def upstream_done(self, client: str, note: str) -> None:
        future = self._upstream_future(client)
        if not future.done():
            future.set_result(note)

    async def upstream_result(self, client: str, timeout: float = CONNECT_TIMEOUT + 1) -> str:
        """How the Wire's connection onwards went for the client at ``client``:
        "" when it is up, else why not. Lets a lab client that connected to an
        outbound Wire report an unreachable server at once."""
        future = self._upstream_future(client)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return f"no answer from {format_address(*self.target)} after {timeout:g} s"
        finally:
            self._upstream.pop(client, None)

    def link_opened(self, link: _TcpLink) -> None:
        self.links.add(link)
        self._idle.clear()
        self._count_changed(len(self.links))

    def link_closed(self, link: _TcpLink) -> None:
        self.links.discard(link)
        if not self.links:
            self._idle.set()
        self._count_changed(len(self.links))

    def stop_listening(self) -> None:
        """Accept no more connections; those open go on."""
        if self._server is not None:
            self._server.close()

    async def stop(self) -> None:
        """Stop listening, cut every connection, and return once all are closed."""
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            link.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        try:
            await asyncio.wait_for(self._idle.wait(), 5)
        except TimeoutError:
            pass
