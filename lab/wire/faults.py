"""Faults a Wire applies to what it forwards: latency, bandwidth, loss, stall,
reset after N bytes or at message N, refused connections.

A Wire keeps one ``Faults`` (frozen; replaced whole when the user changes a
setting, so changes apply live) and one ``random.Random`` seeded from it, so
jitter and loss repeat with the same seed and the same traffic. Each direction
of a connection forwards through an ``Outbox``: chunks leave in the order they
came, each no earlier than its latency (plus jitter) and, under a bandwidth
cap, no earlier than the previous chunk's bytes took at that rate. An Outbox
holding more than ``QUEUE_LIMIT`` bytes asks its owner to stop reading the
sender (``on_full``) until it is down to half (``on_drain``): memory stays
bounded whatever the settings.

Nothing here does I/O: the Wire gives an Outbox the function that writes.
The engine keeps what the user set per Wire on its wire board (lab/wire/board.py).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

#: Bytes an Outbox may hold before the sender is paused.
QUEUE_LIMIT = 256 * 1024
#: How often a stalled Outbox looks whether the stall was cleared (seconds), so a
#: Wire that shares its faults (an FTP data connection's) needs no message.
STALL_POLL = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """A Wire's settings. Zero (or False/None) means no fault of that kind.

    ``latency`` and ``jitter`` are milliseconds added to a round trip: each
    chunk waits half of latency plus a uniform draw in [-jitter, +jitter], never
    below 0, in each direction (so a 200 ms latency adds 200 ms to a request
    and its answer, as a ping would show); ``bandwidth`` is bytes per
    second in each direction; ``loss`` the chance (0-1) that a UDP datagram is
    dropped; ``stall`` stops TCP forwarding until cleared; ``reset_after`` resets
    a TCP connection once that many bytes crossed it (both directions counted);
    ``reset_at_message`` resets it instead of forwarding message N (0: off),
    counting the messages its dissector makes in both directions from 1 (see
    ``_TcpLink.received`` for what "instead" can mean); ``refuse`` resets each
    new TCP connection at once; ``seed`` seeds jitter and loss (None: unseeded;
    setting a seed restarts the draws).
    """

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: int = 0
    loss: float = 0.0
    stall: bool = False
    reset_after: int | None = None
    reset_at_message: int = 0
    refuse: bool = False
    seed: int | None = None

    def changed(self, **settings: Any) -> Faults:
        """These faults with ``settings`` changed; ValueError on a bad name or value."""
        names = {f.name for f in fields(self)}
        unknown = set(settings) - names
        if unknown:
            raise ValueError(f"unknown fault {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(names))}")
        new = replace(self, **settings)
        new.check()
        return new

    def check(self) -> None:
        for name, value in (("latency", self.latency), ("jitter", self.jitter),
                            ("bandwidth", self.bandwidth), ("loss", self.loss)):
            if not math.isfinite(value):  # nan passes every comparison below
                raise ValueError(f"{name} must be a number, not {value}")
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter are milliseconds, 0 or more")
        if self.bandwidth < 0:
            raise ValueError("bandwidth is bytes per second, 0 (no limit) or more")
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError("loss is a probability from 0 to 1")
        if self.reset_after is not None and self.reset_after < 0:
            raise ValueError("reset after is a number of bytes, 0 or more")
        if self.reset_at_message < 0:
            raise ValueError("reset at message is a message number, 1 or more (0: off)")

    @property
    def shapes(self) -> bool:
        """Whether chunks are delayed (latency, jitter or a bandwidth cap)."""
        return bool(self.latency or self.jitter or self.bandwidth)

    def shaping_text(self) -> str:
        """What the Wire does to timing, for a note: "Wire delayed 200 ms a round trip
        (± 50 ms) and limited to 100,000 bytes/s"."""
        parts = []
        if self.latency or self.jitter:
            text = f"delayed {self.latency:g} ms a round trip"
            parts.append(text + (f" (± {self.jitter:g} ms)" if self.jitter else ""))
        if self.bandwidth:
            parts.append(f"limited to {self.bandwidth:,} bytes/s")
        return "Wire " + " and ".join(parts) if parts else "Wire forwards at full speed"


class FaultState:
    """A Wire's current faults and the random numbers they draw from."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)

    def update(self, **settings: Any) -> Faults:
        """Change some settings (ValueError if one is bad); a seed restarts the draws."""
        old = self.faults
        self.faults = old.changed(**settings)
        if "seed" in settings and settings["seed"] is not None:
            self.rng = random.Random(self.faults.seed)
        return self.faults

    def delay(self) -> float:
        """Seconds the next chunk waits before it may leave: half the round trip's
        latency ± jitter."""
        f = self.faults
        ms = f.latency + (self.rng.uniform(-f.jitter, f.jitter) if f.jitter else 0.0)
        return max(0.0, ms) / 2000.0

    def lose(self) -> bool:
        """Whether the next datagram is dropped."""
        loss = self.faults.loss
        return loss > 0 and self.rng.random() < loss


class Outbox:
    """One direction of a connection: forwards chunks in order, after the faults.

    ``send`` writes a chunk on; ``on_full``/``on_drain`` pause and resume the
    sender. Call ``release`` after the settings changed (a stall was cleared).
    """

    def __init__(
        self,
        state: FaultState,
        send: Callable[[bytes], None],
        *,
        on_full: Callable[[], None] | None = None,
        on_drain: Callable[[], None] | None = None,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        self.state = state
        self._send = send
        self._on_full = on_full
        self._on_drain = on_drain
        self.limit = limit
        self._queue: deque[tuple[float, bytes]] = deque()
        self.queued = 0
        self._free = 0.0  # when the previous chunk has left (the bandwidth's clock)
        self._timer: asyncio.TimerHandle | None = None
        self._full = False
        self.closed = False

    def push(self, data: bytes) -> None:
        """Forward ``data`` after the current faults (at once when there are none)."""
        if self.closed or not data:
            return
        faults = self.state.faults
        if not self._queue and not faults.shapes and not faults.stall:
            self._send(data)
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now + self.state.delay(), self._free)
        if faults.bandwidth:
            # slices of about 1/20 s each, so a capped stream flows instead of bursting
            size = max(512, min(16384, faults.bandwidth // 20))
            for offset in range(0, len(data), size):
                piece = data[offset:offset + size]
                start += len(piece) / faults.bandwidth
                self._queue.append((start, piece))
        else:
            self._queue.append((start, data))
        self._free = start
        self.queued += len(data)
        if not self._full and self.queued > self.limit:
            self._full = True
            if self._on_full is not None:
                self._on_full()
        self._schedule()

    def release(self) -> None:
        """Send what is due now (after a stall is cleared) and plan the rest."""
        self._flush()

    def _schedule(self) -> None:
        if self._timer is not None or not self._queue:
            return
        loop = asyncio.get_running_loop()
        if self.state.faults.stall:
            self._timer = loop.call_later(STALL_POLL, self._fire)
        else:
            self._timer = loop.call_at(self._queue[0][0], self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.closed:
            return
        if self.state.faults.stall:
            self._schedule()
            return
        now = asyncio.get_running_loop().time()
        while self._queue and self._queue[0][0] <= now + 0.001 and not self.closed:
            _, data = self._queue.popleft()
            self.queued -= len(data)
            self._send(data)
        if not self._queue:
            self._free = max(self._free, now) if self.state.faults.bandwidth else 0.0
        if self._full and self.queued <= self.limit // 2:
            self._full = False
            if self._on_drain is not None:
                self._on_drain()
        self._schedule()

    def close(self) -> None:
        """Forget what is queued and send nothing more."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self.queued = 0
