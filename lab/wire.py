"""The Wire: a relay between a client and a server that captures what crosses it.

A TcpWire listens where the user chose and, for each client that connects,
opens a connection to its target and forwards bytes both ways, feeding each
chunk to the connection's dissector first. It is built on asyncio Protocols
(not streams): bytes are forwarded from the callback that received them, and a
peer that cannot keep up pauses reading on the other side (back-pressure), so
memory stays bounded whatever the speeds. Half-close is passed on: an EOF from
one side becomes ``write_eof`` on the other, and the connection ends when both
directions are done or one side vanishes.

A UdpWire does the same for datagrams, with one session per client address.
UDP has no connection to fail, so a server that is not there shows only as an
error on the Wire's upstream socket (ICMP "port unreachable"): the UdpWire keeps
it for the client whose datagram it was (``UdpWire.upstream_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable
from typing import Any, Protocol, cast

from lab import dissect
from lab.capture import Capture
from lab.dissect import DissectorFactory
from lab.model import Connection, Sender, Transport, format_address

#: A UDP peer silent this long (seconds) is forgotten and its Connection closed.
UDP_IDLE = 60.0
#: How long the Wire waits for its target to accept a connection (seconds).
CONNECT_TIMEOUT = 10.0
#: Upstream outcomes kept for ``TcpWire.upstream_result`` (and errors for
#: ``UdpWire.upstream_error``).
UPSTREAM_KEPT = 256


class PortInUseError(OSError):
    """The port the user asked for cannot be bound; the message says what to do."""


def bind_error(exc: OSError, host: str, port: int) -> OSError:
    """Turn a bind failure into an error a user can act on."""
    where = format_address(host, port)
    if exc.errno == errno.EADDRINUSE:
        return PortInUseError(
            exc.errno,
            f"port {port} is already in use on {host}: another program (or another lab "
            f"server) listens at {where}. Choose another port, or 0 to let the system pick one.",
        )
    if exc.errno == errno.EACCES:
        return PortInUseError(
            exc.errno, f"not allowed to listen on port {port}: ports below 1024 need "
            "administrator rights. Choose a port from 1024 up.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return PortInUseError(exc.errno, f"{host} is not an address of this machine.")
    return PortInUseError(exc.errno, f"cannot listen on {where}: {exc.strerror or exc}")


CountCallback = Callable[[int], None]


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


class _WireBase:
    """What TCP and UDP Wires share: where they listen, where they forward, who watches."""

    def __init__(
        self,
        capture: Capture,
        *,
        listen: tuple[str, int],
        target: tuple[str, int],
        protocol: str = "raw",
        node: str | None = None,
        on_count: CountCallback | None = None,
        parent: str | None = None,
        dissector: DissectorFactory | None = None,
        reverse: bool = False,
        one_shot: bool = False,
    ) -> None:
        """``parent``: the connection this Wire's connections belong to (an FTP data
        connection's control connection); ``dissector`` replaces the protocol's;
        ``reverse``: the one who connects is the server; ``one_shot``: stop
        listening after the first connection."""
        self.capture = capture
        self.listen = listen
        self.target = target
        self.protocol = protocol
        self.node = node
        self.on_count = on_count
        self.parent = parent
        self.dissector = dissector
        self.reverse = reverse
        self.one_shot = one_shot
        self.address: tuple[str, int] = listen

    @property
    def public_address(self) -> str:
        """Where clients reach this Wire, as ``host:port``."""
        return format_address(*self.address)

    def _count_changed(self, count: int) -> None:
        if self.on_count is not None:
            self.on_count(count)


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


class _UdpFront(asyncio.DatagramProtocol):
    def __init__(self, wire: UdpWire) -> None:
        self.wire = wire

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.wire.from_client(data, addr)


class _UdpSession(asyncio.DatagramProtocol):
    """One client address talking through the UDP Wire."""

    def __init__(self, wire: UdpWire, addr: tuple[str, int], conn: Connection) -> None:
        self.wire = wire
        self.addr = addr
        self.conn = conn
        self.dissector = dissect.make(wire.protocol)
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last_seen = asyncio.get_running_loop().time()
        self.note = ""
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        if self.ended:  # the session ended while its socket was being made
            self.transport.close()
            return
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        self.note = ""  # the server answers (again)
        self.capture(Sender.SERVER, data)
        self.wire.send_to_client(data, self.addr)

    def error_received(self, exc: Exception) -> None:
        """The server refused a datagram (port unreachable) or cannot be reached."""
        self.note = f"server unreachable: {exc}"
        self.wire.upstream_failed(self.conn.client, exc)

    def capture(self, sender: Sender, data: bytes) -> None:
        cap = self.wire.capture
        for piece in self.dissector.feed(sender, data, cap.clock()):
            cap.add(self.conn, piece)

    def to_server(self, data: bytes) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        self.wire.forget_error(self.conn.client)  # an error is news only until the next try
        self.capture(Sender.CLIENT, data)
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)

    def end(self) -> None:
        self.ended = True
        if self.transport is not None:
            self.transport.close()
        cap = self.wire.capture
        for piece in self.dissector.close(cap.clock()):
            cap.add(self.conn, piece)
        self.conn = cap.close(self.conn.id, self.note)


class UdpWire(_WireBase):
    """A UDP relay: each client address gets its own upstream socket and Connection."""

    def __init__(self, capture: Capture, *, idle: float = UDP_IDLE, **kwargs: Any) -> None:
        super().__init__(capture, **kwargs)
        self.idle = idle
        self._tasks: set[asyncio.Task[None]] = set()
        self.sessions: dict[tuple[str, int], _UdpSession] = {}
        #: The upstream error of each client's datagrams, by client address.
        self._errors: dict[str, asyncio.Future[Exception]] = {}
        self._front: asyncio.DatagramTransport | None = None
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.listen
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpFront(self), local_addr=(host, port)
            )
        except OSError as exc:
            raise bind_error(exc, host, port) from None
        self._front = transport
        self.address = transport.get_extra_info("sockname")[:2]
        self._reaper = loop.create_task(self._reap())

    def from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        session = self.sessions.get(addr)
        if session is None:
            session = self._open_session(addr)
        session.to_server(data)

    def _open_session(self, addr: tuple[str, int]) -> _UdpSession:
        conn = self.capture.open(
            protocol=self.protocol,
            transport=Transport.UDP,
            client=format_address(*addr[:2]),
            server=self.public_address,
            node=self.node,
        )
        session = _UdpSession(self, addr, conn)
        self.sessions[addr] = session
        self._count_changed(len(self.sessions))
        task = asyncio.get_running_loop().create_task(self._connect(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return session

    async def _connect(self, session: _UdpSession) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: session, remote_addr=self.target)
        except OSError as exc:
            session.note = f"server unreachable: {exc.strerror or exc}"
            self._end(session)

    def _error_future(self, client: str) -> asyncio.Future[Exception]:
        future = self._errors.get(client)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._errors[client] = future
            while len(self._errors) > UPSTREAM_KEPT:
                del self._errors[next(iter(self._errors))]
        return future

    def upstream_failed(self, client: str, exc: Exception) -> None:
        future = self._error_future(client)
        if not future.done():
            future.set_result(exc)

    def forget_error(self, client: str) -> None:
        future = self._errors.get(client)
        if future is not None and future.done():
            del self._errors[client]

    async def upstream_error(self, client: str) -> Exception:
        """Wait until a datagram the client at ``client`` sent through this Wire is
        refused beyond it (ConnectionRefusedError: nothing listens at the target) or
        cannot reach the target, and return that error. An error seen before the
        client's latest datagram does not count. Cancel the wait once answered."""
        future = self._error_future(client)
        try:
            return await asyncio.shield(future)
        finally:
            if self._errors.get(client) is future:
                del self._errors[client]

    def send_to_client(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._front is not None:
            self._front.sendto(data, addr)

    def _end(self, session: _UdpSession) -> None:
        if self.sessions.pop(session.addr, None) is not None:
            session.end()
            self._count_changed(len(self.sessions))

    async def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(self.idle, 5.0))
            now = loop.time()
            for session in list(self.sessions.values()):
                if now - session.last_seen >= self.idle:
                    self._end(session)

    async def stop(self) -> None:
        """Stop listening and end every session; returns once their sockets are closed."""
        tasks = [*self._tasks, *([self._reaper] if self._reaper is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._reaper = None
        for session in list(self.sessions.values()):
            self._end(session)
        if self._front is not None:
            self._front.close()
            self._front = None
        await asyncio.sleep(0)
