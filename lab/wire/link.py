"""One relayed TCP connection: its two sockets (Legs), its tap, layers and faults.

A chunk a Leg receives goes to the link's Tap (lab/wire/tap.py: dissected and
captured) and on through the link's *layers*, then an Outbox per direction
(lab/wire/faults.py) that applies the Wire's latency, bandwidth and stall, to
the other socket. Bytes are forwarded from the callback that received them; a
peer that cannot keep up, or a full Outbox, pauses reading on the other side
(back-pressure), so memory stays bounded whatever the speeds. In step mode a
received chunk is held by the Tap and its socket paused until the user
forwards, edits or drops it.

A *layer* (``Layer``) sits between the two Legs for one protocol: it sees every
chunk of each direction, in order, and passes it (or what it makes of it) to
the next with the ``send`` it was made with; it may open helper connections of
its own. The FTP data-address rewrite (lab/wire/layers/ftp.py) is the first;
which protocols get which layers is the table in lab/wire/layers/__init__.py.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from lab import dissect, peers
from lab.dissect import DissectorFactory
from lab.model import Connection, Sender, Transport, format_address
from lab.wire.base import CONNECT_TIMEOUT
from lab.wire.budget import ConnectionBudget
from lab.wire.faults import Faults, FaultState, Outbox
from lab.wire.leg import _Leg
from lab.wire.tap import Tap, TapWire

#: How long a peer's FIN waits for the bytes the Wire still owes that peer (seconds).
FIN_WAIT = 1.0
#: After a reset's last byte is written, how long the Wire waits before the RST,
#: so the peer has read the bytes (a reset discards what is still in flight).
RESET_GRACE = 0.05


#: Where a layer passes a chunk on: the next layer, or the faults and the other socket.
Send = Callable[[Sender, bytes], None]


class Layer(Protocol):
    """Protocol-specific work on a TCP link's bytes, between its two Legs (the FTP
    layer rewrites data addresses; a TLS layer would decrypt). Made per link by a
    ``LayerFactory(link, send)``; it gets every chunk of each direction and passes
    it on, rewritten or not, now or later but in order, with ``send``. It may open
    helper connections (the FTP layer opens a Wire per data connection) and note
    what it did in the capture (``link.wire.capture``, ``link.conn``)."""

    def received(self, sender: Sender, data: bytes) -> None: ...

    def flush(self, sender: Sender) -> None:
        """``sender`` said EOF: pass on whatever is kept back."""

    def close(self) -> None:
        """The link ended: let go of helper connections."""


LayerFactory = Callable[["_TcpLink", Send], Layer]


class LinkWire(TapWire, Protocol):
    """What a link uses of its Wire (lab/wire/relay.py: ``TcpWire``)."""

    protocol: str
    parent: str | None
    node: str | None
    dissector: DissectorFactory | None
    reverse: bool
    one_shot: bool
    target: tuple[str, int]
    fault_state: FaultState
    #: The connection budget it counts in (lab/wire/budget.py), for Wires it makes.
    budget: ConnectionBudget
    #: The layers each link gets, outermost (nearest the receiving Leg) first.
    layers: tuple[LayerFactory, ...]

    @property
    def faults(self) -> Faults: ...

    @property
    def public_address(self) -> str: ...

    def stop_listening(self) -> None: ...

    def admit(self, link: _TcpLink, leg: _Leg) -> bool: ...

    def upstream_done(self, client: str, note: str) -> None: ...

    def link_closed(self, link: _TcpLink) -> None: ...


class _TcpLink:
    """A client connection and its upstream connection, relayed and captured."""

    def __init__(self, wire: LinkWire) -> None:
        self.wire = wire
        # ``client`` is the socket the Wire accepted; on a reversed Wire (an FTP
        # active-mode data connection) the server is the one that connects.
        accepted, onward = ((Sender.SERVER, Sender.CLIENT) if wire.reverse
                            else (Sender.CLIENT, Sender.SERVER))
        self.client = _Leg(self, accepted)
        self.server = _Leg(self, onward)
        self.tap = Tap(wire, wire.dissector() if wire.dissector else dissect.make(wire.protocol))
        self.note = ""
        self._tasks: set[asyncio.Task[None]] = set()
        #: Each layer passes on to the next; the last to ``forward``.
        self.layers: list[Layer] = []
        send: Send = self.forward
        for make in reversed(wire.layers):
            self.layers.insert(0, make(self, send))
            send = self.layers[0].received
        self._first = send
        self.outbox = {leg.sender: Outbox(
            wire.fault_state, functools.partial(self._write, leg),
            on_full=functools.partial(leg.pause, "queue"),
            on_drain=functools.partial(leg.resume, "queue")) for leg in (self.client, self.server)}
        self.forwarded = 0  # bytes written on, both ways (for ``reset_after``)
        #: Per sender: bytes read and captured, passed into the layers (as read), and
        #: pushed into its Outbox (as the layers made them): what was never delivered.
        self.read = dict.fromkeys(Sender, 0)
        self.taken = dict.fromkeys(Sender, 0)
        self.queued = dict.fromkeys(Sender, 0)
        self.messages = 0  # dissected, both ways (for ``reset_at_message``)
        self.resetting = False
        self._fin_since: dict[Sender, float] = {}  # when each side's FIN came (``eof``)
        self._shaping = (0.0, 0.0, 0)  # the latency, jitter, bandwidth last noted
        self._stalled = False
        self._peer: tuple[str, int] | tuple[()] = ()  # the client's address
        self._local: tuple[str, int] | None = None  # the Wire's socket to the server

    @property
    def conn(self) -> Connection | None:
        """The link's Connection in the capture (None until the client's socket is up)."""
        return self.tap.conn

    def other(self, leg: _Leg) -> _Leg:
        return self.server if leg is self.client else self.client

    def leg_of(self, sender: Sender) -> _Leg:
        return self.client if self.client.sender is sender else self.server

    def _task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def leg_made(self, leg: _Leg) -> None:
        if leg is not self.client:  # the socket to the server: it stands for the client
            if not self.wire.reverse and self.conn is not None and self.conn.closed is None:
                self._local = peers.stand_for(leg.transport, self._peer, functools.partial(
                    self.wire.inject, self.conn, Sender.SERVER))
            return
        assert leg.transport is not None
        peer = leg.transport.get_extra_info("peername")
        if not peer:  # reset before we could look: nothing to relay
            leg.transport.abort()
            return
        self._peer = (str(peer[0]), int(peer[1]))
        here = self.wire.public_address
        if here.startswith(("0.0.0.0:", "[::]:")):  # all interfaces: the one it came to
            here = format_address(*leg.transport.get_extra_info("sockname")[:2])
        ends = (format_address(*peer[:2]), here)
        client, server = ends[::-1] if self.wire.reverse else ends
        self.tap.conn = self.wire.capture.open(
            protocol=self.wire.protocol,
            transport=Transport.TCP,
            client=client,
            server=server,
            parent=self.wire.parent,
            node=self.wire.node,
        )
        if self.wire.one_shot:
            self.wire.stop_listening()
        if not self.wire.admit(self, leg):
            return
        leg.pause("connect")  # until the upstream connection is up
        self._task(self._connect())

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
        else:
            self.client.resume("connect")

    def received(self, leg: _Leg, data: bytes) -> int:
        """Capture and forward a chunk; how many messages it made (ended or begun).

        Under ``reset_at_message`` a chunk is dissected first, and the one that
        completes message N is not forwarded but reset: a message longer than one read
        may have had its start forwarded, and messages in the same read as N
        (pipelined) are stopped with it."""
        conn = self.conn
        assert conn is not None
        if "reset" in leg.pauses:
            return 0
        tap = self.tap
        self.read[leg.sender] += len(data)
        step, cut = self.wire.step, self.wire.faults.reset_at_message
        if not step and not cut:
            self.pass_on(leg.sender, data)  # first: dissecting must not add to the wait
        pieces = tap.dissect(leg.sender, data)
        before, self.messages = self.messages, self.messages + len(pieces)
        if cut and before < cut <= self.messages:
            tap.capture(pieces)
            self._reset_at(leg.sender, cut)
            return len(pieces)
        ids = tap.capture(pieces, held=step)
        if step:
            self._hold(leg, data, ids)
        elif cut:
            self.pass_on(leg.sender, data)
        return len(pieces)

    def pass_on(self, sender: Sender, data: bytes, size: int | None = None) -> None:
        """What the Wire received from ``sender``, on its way: through the layers (each
        may rewrite it), then the faults. ``size``: the bytes it stands for as read
        (a held chunk edited in step mode), when not ``len(data)``."""
        self.taken[sender] += len(data) if size is None else size
        self._first(sender, data)

    def forward(self, sender: Sender, data: bytes) -> None:
        """Send ``data`` on to the other side of whoever sent it (after the faults)."""
        self._note_faults(sender)
        outbox = self.outbox[sender]
        if not outbox.closed:
            self.queued[sender] += len(data)
        outbox.push(data)

    def _write(self, leg: _Leg, data: bytes) -> None:
        """Write what ``leg`` sent to the other socket, counting for ``reset_after``."""
        other = self.other(leg)
        target = other.transport
        if target is None or target.is_closing() or self.resetting:
            return
        limit = self.wire.faults.reset_after
        if limit is not None and self.forwarded + len(data) >= limit:
            data = data[:max(0, limit - self.forwarded)]
            self.resetting = True
            self._task(self._reset(leg.sender, limit))
        other.send(data)
        self.forwarded += len(data)

    async def _reset(self, sender: Sender, limit: int) -> None:
        """Reset both sockets once the last bytes before ``limit`` have left."""
        for leg in (self.client, self.server):
            leg.pause("reset")
            self.outbox[leg.sender].close()
        await self._sent(1.0)
        if self.conn is not None:
            self.wire.inject(self.conn, sender,
                             f"Wire reset the connection after {limit:,} bytes")
        self.note = f"reset by the Wire after {limit:,} bytes"
        self.reset()

    def _reset_at(self, sender: Sender, number: int) -> None:
        """Message ``number`` came: read no more, let out what came before it, reset."""
        self.client.pause("reset")
        self.server.pause("reset")
        assert self.conn is not None
        self.wire.inject(self.conn, sender, f"Wire reset the connection at message {number}")
        self.note = f"reset by the Wire at message {number}"

        async def later() -> None:
            await self._sent(5.0)  # a stall or a slow cap: reset anyway, a little late
            self.resetting = True
            self.reset()

        self._task(later())

    async def _sent(self, most: float) -> None:
        """Wait (``most`` seconds at most) until nothing is queued or unwritten, then
        a moment more, so the peers read the bytes (a reset discards those in flight)."""
        for _ in range(int(most * 100)):
            if all(box.queued == 0 for box in self.outbox.values()) and all(
                    leg.transport is None or leg.transport.get_write_buffer_size() == 0
                    for leg in (self.client, self.server)):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(RESET_GRACE)

    def reset(self) -> None:
        """End the connection with a reset on both sockets."""
        for outbox in self.outbox.values():
            outbox.close()
        self.client.reset()
        self.server.reset()

    def _note_faults(self, sender: Sender) -> None:
        """Capture a fault once per connection, and again when it changes."""
        faults = self.wire.faults
        shaping = (faults.latency, faults.jitter, faults.bandwidth)
        if self.conn is None:
            return
        if shaping != self._shaping:
            self._shaping = shaping
            self.wire.inject(self.conn, sender, faults.shaping_text())
        if faults.stall and not self._stalled:
            self._stalled = True
            self.wire.inject(self.conn, sender,
                             "Wire stalls the connection: nothing is forwarded until cleared")

    def faults_changed(self) -> None:
        if self._stalled and not self.wire.faults.stall and self.conn is not None:
            self._stalled = False
            self.wire.inject(self.conn, Sender.CLIENT, "Wire ended the stall")
        for outbox in self.outbox.values():
            outbox.release()

    # ---- hold-and-step -------------------------------------------------------------

    def _hold(self, leg: _Leg, data: bytes, ids: list[int]) -> None:
        leg.pause("held")
        self.tap.hold(leg.sender, data, ids,
                      release=lambda out: self._release(leg, out, len(data)),
                      drop=lambda message_id: self._drop(leg, message_id))

    def _release(self, leg: _Leg, data: bytes, size: int) -> None:
        if leg.lost or self.resetting:
            return
        self.pass_on(leg.sender, data, size)
        leg.resume("held")

    def _drop(self, leg: _Leg, message_id: int) -> None:
        if self.conn is not None:
            self.wire.inject(self.conn, leg.sender,
                             f"Wire dropped #{message_id} and reset the connection")
        self.note = f"#{message_id} dropped at the Wire: connection reset"
        self.tap.forget()
        self.reset()

    # ---- the end -------------------------------------------------------------------

    def eof(self, leg: _Leg) -> None:
        """``leg``'s peer sent its FIN. While the Wire still holds bytes on their way to
        that peer, the FIN waits: had the peer closed its socket (not only its sending
        side), its kernel would have reset the connection for the unread bytes (a direct
        peer gets a RST, not a FIN); writing them now tells which (``lost`` passes a
        reset on), and once they are delivered the FIN goes on as it came. It waits
        FIN_WAIT at most: a peer that keeps sending until it sees the FIN gets it."""
        loop = asyncio.get_running_loop()
        if leg.eof:
            return  # a late look after the FIN went on
        since = self._fin_since.setdefault(leg.sender, loop.time())
        if (self._owed(leg) and not leg.lost and not self.resetting
                and not self.other(leg).lost and loop.time() - since < FIN_WAIT):
            loop.call_later(0.02, self.eof, leg)
            return
        leg.eof = True
        for layer in self.layers:
            layer.flush(leg.sender)
        other = self.other(leg)
        if other.eof or other.transport is None:
            self._close_both()
            return
        if other.transport.can_write_eof() and not other.transport.is_closing():
            self._write_eof_after(leg.sender, other.transport)

    def _owed(self, leg: _Leg) -> bool:
        """Whether bytes read from the other side still wait to reach ``leg``'s peer."""
        other = self.other(leg)
        transport = leg.transport
        return bool((transport is not None and not transport.is_closing()
                     and transport.get_write_buffer_size())
                    or self.outbox[other.sender].queued or "write" in other.pauses)

    def _write_eof_after(self, sender: Sender, transport: asyncio.Transport) -> None:
        """Pass on an EOF once the bytes queued before it have left."""
        outbox = self.outbox[sender]
        if outbox.queued:
            asyncio.get_running_loop().call_later(
                0.01, self._write_eof_after, sender, transport)
        elif not transport.is_closing() and not self.resetting:
            transport.write_eof()

    def lost(self, leg: _Leg, exc: Exception | None) -> None:
        if leg is self.server and self._local is not None:
            peers.forget(self._local)  # the server's end is gone too (lab/peers.py)
        if exc is not None and not self.note:
            who = "client" if leg.sender is Sender.CLIENT else "server"
            self.note = f"{who} connection lost: {exc}"
        other = self.other(leg)
        if other.transport is not None and not other.lost:
            if exc is not None:  # reset, broken pipe, timed out: not a clean end
                self._pass_reset(leg, other)
            else:
                self._close_leg(other)
        if self.client.lost and (self.server.lost or self.server.transport is None):
            self._finish()

    def _pass_reset(self, leg: _Leg, other: _Leg) -> None:
        """``leg``'s connection ended with an error (its peer reset it, a broken pipe, a
        timeout): reset ``other`` too, as the network path would carry the RST (a FIN
        would tell that side the stream ended cleanly: an FTP server would then say 226
        for a transfer its client cut short)."""
        other.why = other.why or (f"the {leg.sender.value}'s connection ended with an "
                                  "error and the Wire passed a reset on")
        other.reset()
        other.own = False  # not the Wire's doing: the capture says so

    def _close_leg(self, leg: _Leg) -> None:
        if leg.transport is not None and not leg.transport.is_closing():
            leg.transport.close()

    def _close_both(self) -> None:
        if any(box.queued for box in self.outbox.values()) and not self.resetting:
            # bytes still wait for their latency or bandwidth: close after them
            asyncio.get_running_loop().call_later(0.01, self._close_both)
            return
        self._close_leg(self.client)
        self._close_leg(self.server)

    def abort(self) -> None:
        for leg in (self.client, self.server):
            leg.abort("the Wire stopped")
        for task in list(self._tasks):
            task.cancel()

    def _undelivered(self, sender: Sender) -> None:
        """Say in the capture what ``sender`` sent that the Wire read and the other side
        never got (see lab/wire/leg.py for what can be known of it)."""
        to = self.other(self.leg_of(sender))
        kept = self.read[sender] - self.taken[sender]  # held, or stopped at a reset
        never, unsure, acked, why = to.shortfall(kept + self.queued[sender])
        self.tap.undelivered(sender, never, why, unsure=unsure, acked=acked,
                             note=not to.own)  # the Wire's own reset has its note already

    def _finish(self) -> None:
        if self.conn is None or self.conn.closed is not None:
            return
        self.tap.flush()
        for sender in Sender:
            self._undelivered(sender)
        self.tap.close(self.note)
        if self._local is not None:
            peers.forget(self._local)
        for layer in self.layers:
            layer.close()
        for outbox in self.outbox.values():
            outbox.close()
        self.wire.link_closed(self)
