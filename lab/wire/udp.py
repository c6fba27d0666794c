"""The UDP Wire: a relay for datagrams, one session (and Connection) per client address.

UDP has no connection to fail, so a server that is not there shows only as an
error on the Wire's upstream socket (ICMP "port unreachable"): the UdpWire keeps
it for the client whose datagram it was (``UdpWire.upstream_error``).

Each session looks at its datagrams through a Tap (lab/wire/tap.py), as a TCP
link does: dissected, captured, and held in step mode; faults apply after.

An empty datagram is a datagram: it is captured (a Message of size 0), held,
lost or delayed as any other, and forwarded (``send_datagram``: asyncio before
Python 3.13 silently drops an empty ``sendto``). A datagram always leaves whole:
a bandwidth cap delays it by its size, never splits it (``DatagramOutbox``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any, cast

from lab import dissect, peers
from lab.capture import Capture
from lab.datagram import send_datagram
from lab.model import Connection, Piece, Sender, Transport, format_address
from lab.wire.base import UDP_IDLE, UDP_YIELD, UPSTREAM_KEPT, _WireBase, bind_error
from lab.wire.faults import QUEUE_LIMIT, Outbox
from lab.wire.tap import Tap

#: The summary of an empty datagram's Message (when its dissector makes none).
EMPTY_DATAGRAM = "empty datagram (0 bytes)"


class DatagramOutbox(Outbox):
    """An Outbox for datagrams: each leaves whole and in order after its latency, a
    bandwidth cap delays it by its size (never splits it), an empty one included."""

    def push(self, data: bytes) -> None:
        if self.closed:
            return
        faults = self.state.faults
        if not self._queue and not faults.shapes and not faults.stall:
            self._send(data)
            return
        start = max(asyncio.get_running_loop().time() + self.state.delay(), self._free)
        if faults.bandwidth:
            start += len(data) / faults.bandwidth
        self._queue.append((start, data))
        self._free = start
        self.queued += len(data)
        self._schedule()


def empty_piece(sender: Sender, now: float) -> Piece:
    """An empty datagram as a Message, for a dissector that makes none of it."""
    return Piece(sender=sender, time=now, summary=EMPTY_DATAGRAM, raw=b"", size=0,
                 fields=(("length", 0),))


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
        self.tap = Tap(wire, dissect.make(wire.protocol), conn)
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last_seen = asyncio.get_running_loop().time()
        self.note = ""
        self.ended = False
        self.outbox = {
            Sender.CLIENT: DatagramOutbox(wire.fault_state, self._send_up),
            Sender.SERVER: DatagramOutbox(wire.fault_state,
                                          lambda data: wire.send_to_client(data, addr)),
        }
        self._shaping = (0.0, 0.0, 0)
        self.local: tuple[str, int] | None = None  # this session's socket to the server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        if self.ended:  # the session ended while its socket was being made
            self.transport.close()
            return
        self.local = peers.stand_for(  # it stands for the client (lab/peers.py)
            transport, self.addr, functools.partial(self.wire.inject, self.conn, Sender.SERVER))
        for data in self.pending:
            send_datagram(self.transport, data)
        self.pending.clear()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        self.note = ""  # the server answers (again)
        self.route(Sender.SERVER, data, self.see(Sender.SERVER, data))

    def see(self, sender: Sender, data: bytes) -> list[int]:
        """Dissect and capture a datagram (an empty one too); its Messages' ids."""
        pieces = self.tap.dissect(sender, data)
        if not data and not pieces:
            pieces = [empty_piece(sender, self.wire.capture.clock())]
        return self.tap.capture(pieces, held=self.wire.step)

    def error_received(self, exc: Exception) -> None:
        """The server refused a datagram (port unreachable) or cannot be reached."""
        self.note = f"server unreachable: {exc}"
        self.wire.upstream_failed(self.conn.client, exc)

    def route(self, sender: Sender, data: bytes, ids: list[int]) -> None:
        """A datagram from ``sender`` on its way: held in step mode, else on."""
        if not self.wire.step:
            self.after_hold(sender, data)
            return
        wire = self.wire

        def drop(message_id: int) -> None:
            wire.inject(self.conn, sender, f"Wire dropped #{message_id} (the datagram is lost)")

        self.tap.hold(sender, data, ids, release=lambda out: self.after_hold(sender, out),
                      drop=drop)

    def after_hold(self, sender: Sender, data: bytes) -> None:
        """Forward a datagram after the faults: lost, delayed, paced or at once."""
        if self.ended:
            return
        faults = self.wire.faults
        outbox = self.outbox[sender]
        if self.wire.fault_state.lose():
            self.wire.inject(self.conn, sender,
                             f"Wire dropped a datagram (loss {faults.loss:.0%})")
            return
        if outbox.queued > QUEUE_LIMIT:  # a full queue drops, as a router's does
            self.wire.inject(self.conn, sender, "Wire dropped a datagram (queue full)")
            return
        shaping = (faults.latency, faults.jitter, faults.bandwidth)
        if shaping != self._shaping:
            self._shaping = shaping
            self.wire.inject(self.conn, sender, faults.shaping_text())
        outbox.push(data)

    def _send_up(self, data: bytes) -> None:
        if self.transport is None:
            self.pending.append(data)
        else:
            send_datagram(self.transport, data)

    def to_server(self, data: bytes) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        self.wire.forget_error(self.conn.client)  # an error is news only until the next try
        self.route(Sender.CLIENT, data, self.see(Sender.CLIENT, data))

    def end(self) -> None:
        self.ended = True
        if self.local is not None:
            peers.forget(self.local)
        for outbox in self.outbox.values():
            outbox.close()
        if self.transport is not None:
            self.transport.close()
        self.conn = self.tap.close(self.note) or self.conn


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
        #: Client addresses refused by a cap, until a session ends (lets them retry).
        self._refused: set[tuple[str, int]] = set()
        #: An outbound Wire: the outside server it stands for (see ``public_address``).
        self.stands_for: tuple[str, int] | None = None

    @property
    def public_address(self) -> str:
        """Where clients reach this Wire; for an outbound Wire, the outside server it
        stands for: its sessions are captured as going there, not to its own port."""
        return format_address(*self.stands_for) if self.stands_for else super().public_address

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
            if addr in self._refused:  # refused before: quietly, until there is room
                refusal = self._refusal(addr)
                if refusal and not self._make_room(addr, refusal):
                    return
                self._refused.discard(addr)
            elif self._over_cap(addr):
                return
            session = self._open_session(addr)
        session.to_server(data)

    def _over_cap(self, addr: tuple[str, int]) -> bool:
        """Refuse a new client address over a cap (lab.lan.Caps), unless a session silent
        for UDP_YIELD seconds makes room: its first datagram gets a Connection with the
        Wire's note, the rest are dropped until a session ends."""
        refusal = self._refusal(addr)
        if refusal and self._make_room(addr, refusal):
            refusal = self._refusal(addr)
        if refusal:
            conn = self.capture.open(protocol=self.protocol, transport=Transport.UDP,
                                     client=format_address(*addr[:2]),
                                     server=self.public_address, node=self.node)
            self.inject(conn, Sender.CLIENT, refusal)
            self.capture.close(conn.id, refusal)
            if len(self._refused) >= UPSTREAM_KEPT:
                self._refused.clear()
            self._refused.add(addr)
        return bool(refusal)

    def _refusal(self, addr: tuple[str, int]) -> str:
        from_host = sum(1 for other in self.sessions if other[0] == addr[0])
        return self.caps.refusal(addr[0], from_host, len(self.sessions))

    def _make_room(self, addr: tuple[str, int], refusal: str) -> bool:
        """End the session silent longest (for UDP_YIELD seconds at least, nothing held
        or queued), from ``addr``'s host when that host is over its cap; whether one ended."""
        now = asyncio.get_running_loop().time()
        same_host = self.caps.per_client and sum(
            1 for other in self.sessions if other[0] == addr[0]) >= self.caps.per_client
        quiet = [s for key, s in self.sessions.items()
                 if (not same_host or key[0] == addr[0]) and now - s.last_seen >= UDP_YIELD
                 and not s.tap.holding()
                 and not any(box.queued for box in s.outbox.values())]
        if not quiet:
            return False
        oldest = min(quiet, key=lambda s: s.last_seen)
        oldest.note = f"ended by the Wire to make room for {format_address(*addr[:2])}"
        self.inject(oldest.conn, Sender.CLIENT,
                    f"Wire ended this quiet session to make room: {refusal.partition(': ')[2]}")
        self._end(oldest)
        return True

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

    def faults_changed(self) -> None:
        for session in list(self.sessions.values()):
            for outbox in session.outbox.values():
                outbox.release()

    def send_to_client(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._front is not None:
            send_datagram(self._front, data, addr)

    def _end(self, session: _UdpSession) -> None:
        if self.sessions.pop(session.addr, None) is not None:
            self._refused.clear()
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
        self.end_holds()
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
