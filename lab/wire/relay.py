"""The TCP Wire: listening, accepting, caps, and the slow-client guard.

A TcpWire listens where the user chose and, for each client that connects,
opens a connection to its target and forwards bytes both ways, feeding each
chunk to the connection's dissector first. It is built on asyncio Protocols
(not streams): bytes are forwarded from the callback that received them, and a
peer that cannot keep up pauses reading on the other side (back-pressure), so
memory stays bounded whatever the speeds. Half-close is passed on: an EOF from
one side becomes ``write_eof`` on the other, and the connection ends when both
directions are done or one side vanishes.

Each connection is a ``_TcpLink`` (lab/wire/link.py), where its tap, layers,
faults and holds apply. A UdpWire (lab/wire/udp.py) does the same for datagrams,
with one session per client address.

A client that sends its messages a byte now and then (slowloris), on connection
after connection, would hold a shared Wire's places (its caps) for ever. So once
a Wire holds half the connections its caps, or the system's open-file limit,
allow (or one client address half its own cap), a client message still
incomplete ``slow_after`` seconds after its first byte, whose bytes came slower
than ``min_rate`` bytes a second, is cut by the Wire with a note in the capture.
Below that nobody waits for a place, so a person typing a request or a mail by
hand in telnet is never cut; nor is a slow upload that keeps its rate, nor
anything while a Wire of its engine steps (``patient``), stalls, or its server is not
reading. The guard watches the client through the link's tap: it wraps the
tap's dissector (``_Watched``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lab.capture import Capture
from lab.dissect import Dissector
from lab.lan import connection_ceiling
from lab.model import Piece, Sender, format_address, parse_address
from lab.wire.base import CONNECT_TIMEOUT, UPSTREAM_KEPT, _WireBase, bind_error
from lab.wire.layers import layers_for
from lab.wire.leg import _Leg
from lab.wire.link import LayerFactory, _TcpLink

#: A client message still incomplete this long after its first byte (seconds)…
SLOW_AFTER = 60.0
#: …and slower than this (bytes a second) is cut: nginx's client_header_timeout is 60 s.
MIN_RATE = 100.0


class _Watched:
    """A link's dissector, watched: when the client's unfinished message began, and
    how many bytes of it have come (a feed that completes a message starts afresh)."""

    def __init__(self, inner: Dissector, clock: Callable[[], float]) -> None:
        self.inner = inner
        self.clock = clock
        self.started: float | None = None
        self.pending = 0

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        pieces = self.inner.feed(sender, data, now)
        if sender is Sender.CLIENT:
            if pieces:
                self.started, self.pending = None, 0
            elif data:
                if self.started is None:
                    self.started = self.clock()
                self.pending += len(data)
        return pieces

    def close(self, now: float) -> list[Piece]:
        return self.inner.close(now)

    def restart(self, now: float) -> None:
        """The client could not send (its socket was paused): count from now."""
        if self.started is not None:
            self.started, self.pending = now, 0

    def too_slow(self, now: float, after: float, rate: float) -> bool:
        return (self.started is not None and now - self.started >= after
                and self.pending < rate * (now - self.started))


class TcpWire(_WireBase):
    """A TCP relay from ``listen`` to ``target`` that captures every connection.

    Beyond its caps, a TcpWire refuses connections once its ``budget`` (lab/wire/budget.py,
    shared by the Wires of its engine) is at ``lab.lan.connection_ceiling()``, so the
    process never runs out of open files."""

    def __init__(self, capture: Capture, **kwargs: Any) -> None:
        super().__init__(capture, **kwargs)
        #: The layers each link gets (loaded on first use: FTP's data-address rewrite).
        self.layers: tuple[LayerFactory, ...] = layers_for(self.protocol)
        #: How each connection's upstream attempt ended ("" = connected), by client
        #: address, for a lab client that must know (see ``upstream_result``).
        self._upstream: dict[str, asyncio.Future[str]] = {}
        self._server: asyncio.Server | None = None
        self.links: set[_TcpLink] = set()
        self._idle = asyncio.Event()
        self._idle.set()  # no links yet: stop() before or after a failed start returns at once
        #: The slow-client guard (see the module's doc); ``slow_after`` 0 turns it off.
        self.slow_after = SLOW_AFTER
        self.min_rate = MIN_RATE
        self._sweeper: asyncio.Task[None] | None = None
        #: An outbound Wire: the outside server it stands for (see ``public_address``).
        self.stands_for: tuple[str, int] | None = None

    @property
    def public_address(self) -> str:
        """Where clients reach this Wire; for an outbound Wire, the outside server it
        stands for: its connections are captured as going there, not to its own port."""
        return format_address(*self.stands_for) if self.stands_for else super().public_address

    async def start(self) -> None:
        """Bind and listen; PortInUseError with a clear message if the port is taken."""
        loop = asyncio.get_running_loop()
        host, port = self.listen
        connection_ceiling()  # raises the open-file limit before the first accept
        try:
            self._server = await loop.create_server(
                lambda: _TcpLink(self).client, host, port, reuse_address=True
            )
        except OSError as exc:
            raise bind_error(exc, host, port) from None
        self.address = self._server.sockets[0].getsockname()[:2]
        if self.parent is None and not self.reverse:  # not an FTP data connection's Wire
            self._sweeper = loop.create_task(self._sweep())

    async def _sweep(self) -> None:
        """Cut the links whose client sends a message too slowly (see the module's doc)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.05, min(1.0, self.slow_after / 4)))
            after = self.patient(self.slow_after)
            if not self.slow_after or self.step or self.faults.stall:
                continue
            bandwidth = self.faults.bandwidth
            rate = min(self.min_rate, bandwidth / 4) if bandwidth else self.min_rate
            now = loop.time()
            crowded = self._crowded_hosts()
            for link in list(self.links):
                watch = link.tap.dissector
                if not isinstance(watch, _Watched) or link.conn is None:
                    continue
                if link.client.pauses:
                    watch.restart(now)
                elif (crowded is None or parse_address(link.conn.client)[0] in crowded) \
                        and watch.too_slow(now, after, rate):
                    self._cut_slow(link, watch, now)

    def _crowded_hosts(self) -> set[str] | None:
        """Where slow clients keep others out: None when the Wire (or the process) holds
        half the connections it may, else the client hosts holding half their cap."""
        if (self.caps.total and 2 * len(self.links) >= self.caps.total) or \
                self.budget.half_full():
            return None
        per_host: dict[str, int] = {}
        if self.caps.per_client:
            for link in self.links:
                if link.conn is not None:
                    host = parse_address(link.conn.client)[0]
                    per_host[host] = per_host.get(host, 0) + 1
        return {host for host, count in per_host.items()
                if 2 * count >= self.caps.per_client}

    def _cut_slow(self, link: _TcpLink, watch: _Watched, now: float) -> None:
        assert link.conn is not None and watch.started is not None
        took = now - watch.started
        self.inject(link.conn, Sender.CLIENT,
                    f"Wire closed a slow client: {watch.pending:,} bytes in {took:.0f} s "
                    "and no complete message (slowloris?)")
        link.note = f"closed by the Wire: message incomplete after {took:.0f} s"
        watch.started = None
        for leg in (link.client, link.server):
            if leg.transport is not None and not leg.transport.is_closing():
                leg.transport.close()

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

    def admit(self, link: _TcpLink, leg: _Leg) -> bool:
        """Take a new connection in, or refuse it with a note in the capture: over a
        cap (lab.lan.Caps) it is accepted and closed at once, under the ``refuse``
        fault it is reset. Whether the link goes on to connect upstream."""
        assert link.conn is not None and leg.transport is not None
        host = parse_address(link.conn.client)[0]
        from_host = sum(1 for other in self.links if other.conn is not None
                        and parse_address(other.conn.client)[0] == host)
        refusal = "" if self.reverse else self.caps.refusal(host, from_host, len(self.links))
        if not refusal and self.budget.full():
            refusal = (f"Wire refused {host}: {self.budget.ceiling:,} connections are open "
                       "in the lab, "
                       "as many as this system's open-file limit allows")
        if refusal:
            self.inject(link.conn, leg.sender, refusal)
            link.note = refusal
            leg.transport.close()
            return False
        self.link_opened(link)
        if self.faults.refuse:
            self.inject(link.conn, leg.sender, "Wire refused the connection (reset)")
            link.note = "refused by the Wire"
            leg.reset()
            return False
        return True

    def link_opened(self, link: _TcpLink) -> None:
        if self._sweeper is not None:
            link.tap.dissector = _Watched(link.tap.dissector, asyncio.get_running_loop().time)
        if link not in self.links:
            self.budget.opened()
        self.links.add(link)
        self._idle.clear()
        self._count_changed(len(self.links))

    def link_closed(self, link: _TcpLink) -> None:
        if link in self.links:
            self.budget.closed()
        self.links.discard(link)
        if not self.links:
            self._idle.set()
        self._count_changed(len(self.links))

    @property
    def listening(self) -> bool:
        """Whether it takes new connections (started, and not stopped listening)."""
        return self._server is not None and self._server.is_serving()

    def stop_listening(self) -> None:
        """Accept no more connections; those open go on."""
        if self._server is not None:
            self._server.close()

    def faults_changed(self) -> None:
        for link in list(self.links):
            link.faults_changed()

    async def stop(self) -> None:
        """Stop listening, cut every connection, and return once all are closed."""
        self.end_holds()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
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
