"""The Wire against a direct connection: round trips, bulk throughput, memory.

The client, the lab's own TCP echo backend (or a discard server) run on one
asyncio loop in this process, over loopback. The Wire sits between them two ways:

- "wire": a TcpWire with its Capture on and one subscriber, on the same loop (as
  in the lab, where servers and Wires share the engine's loop);
- "relay": ``cslab relay -q`` in its own process (as mitmdump would be), started
  by PID and ended by PID; its memory is read from /proc/PID/status.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.capture import Capture
from lab.model import Event
from lab.servers.echo import TcpEchoBackend
from lab.wire import TcpWire
from tests.perf.http_bench import Procs, cpu_seconds, start_relay

Address = tuple[str, int]

PAYLOAD = 1024
CHUNK = 256 * 1024


class _PingPong(asyncio.Protocol):
    """Sends PAYLOAD bytes, waits for all of them back, again and again until told to stop."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.payload = b"x" * PAYLOAD
        self.pending = 0
        self.trips = 0
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.pending = PAYLOAD
        self.transport.write(self.payload)

    def data_received(self, data: bytes) -> None:
        self.pending -= len(data)
        if self.pending > 0:
            return
        self.trips += 1
        if time.perf_counter() < self.deadline:
            self._send()
        elif not self.done.done():
            self.done.set_result(self.trips)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed early"))


async def round_trips(target: Address, seconds: float) -> float:
    """Round trips per second of a PAYLOAD-byte echo over one connection."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    transport, proto = await loop.create_connection(
        lambda: _PingPong(started + seconds), *target)
    trips = await proto.done
    elapsed = time.perf_counter() - started
    transport.close()
    return trips / elapsed


class _Discard(asyncio.Protocol):
    """A server that reads everything and counts it; resolves ``done`` at ``want`` bytes."""

    def __init__(self, want: int, done: asyncio.Future[float]) -> None:
        self.want = want
        self.got = 0
        self.done = done

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        if self.got >= self.want and not self.done.done():
            self.done.set_result(time.perf_counter())


class _Streamer(asyncio.Protocol):
    """Writes ``total`` bytes in CHUNKs as fast as the transport accepts them."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.chunk = bytes(CHUNK)
        self.paused = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._pump()

    def _pump(self) -> None:
        assert self.transport is not None
        while self.left > 0 and not self.paused:
            n = min(self.left, CHUNK)
            self.transport.write(self.chunk if n == CHUNK else self.chunk[:n])
            self.left -= n

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._pump()


class _BareRelay(asyncio.Protocol):
    """The least a relay can do (forward, nothing else): the ceiling for any Wire on the
    same loop, since each round trip then costs the loop two more reads and writes."""

    def __init__(self, target: Address, peer: _BareRelay | None = None) -> None:
        self.target = target
        self.peer = peer
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.peer is None:
            transport.pause_reading()
            asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, self.peer = await loop.create_connection(
            lambda: _BareRelay(self.target, self), *self.target)
        assert self.transport is not None
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None and self.peer.transport is not None
        self.peer.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


@contextmanager
def rss_sampler(pid: int | None = None, interval: float = 0.02) -> Iterator[list[int]]:
    """Sample VmRSS (KiB) of ``pid`` (this process by default) from a thread while the
    block runs; yields the samples list."""
    samples: list[int] = [vm_rss(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            samples.append(vm_rss(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.append(vm_rss(pid))


def vm_rss(pid: int | None = None) -> int:
    path = Path("/proc") / ("self" if pid is None else str(pid)) / "status"
    with open(path, encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Bulk:
    mb_per_s: float
    rss_kib: list[int]


#: Puts a relay before an address: (where to connect, the PID whose memory to watch).
Front = Callable[[Address], Awaitable[tuple[Address, int | None]]]


async def bulk(total: int, front: Front | None) -> Bulk:
    """Stream ``total`` bytes to a discard server (through ``front`` if given); MB/s is
    counted until the server has read the last byte."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    server = await loop.create_server(lambda: _Discard(total, done), "127.0.0.1", 0)
    target: Address = server.sockets[0].getsockname()[:2]
    pid = None
    if front is not None:
        target, pid = await front(target)
    with rss_sampler(pid) as samples:
        started = time.perf_counter()
        transport, _ = await loop.create_connection(lambda: _Streamer(total), *target)
        finished = await done
        transport.close()
    server.close()
    await server.wait_closed()
    return Bulk(total / (finished - started) / 1e6, samples)


class WireUnderTest:
    """TcpWires sharing a Capture with one subscriber, like the GUI's bridge queue."""

    def __init__(self) -> None:
        self.capture = Capture()
        self.queue: collections.deque[Event] = collections.deque(maxlen=100_000)
        self.capture.subscribe(self.queue.append)
        self.wires: list[TcpWire] = []

    async def front(self, target: Address) -> tuple[Address, int | None]:
        wire = TcpWire(self.capture, listen=("127.0.0.1", 0), target=target)
        await wire.start()
        self.wires.append(wire)
        return wire.address, None

    async def close(self) -> None:
        for wire in self.wires:
            await wire.stop()


class RelayUnderTest:
    """``cslab relay -q`` subprocesses (raw protocol, capture on), ended by PID."""

    def __init__(self) -> None:
        self.procs = Procs()

    async def front(self, target: Address) -> tuple[Address, int | None]:
        address, why = start_relay(self.procs, f"{target[0]}:{target[1]}", protocol="raw")
        if address is None:
            raise RuntimeError(why)
        host, port = address.rsplit(":", 1)
        return (host, int(port)), self.procs.procs[-1].pid

    def close(self) -> None:
        self.procs.end_all()


Results = dict[str, dict[str, float]]


def _rss(samples: list[int]) -> dict[str, float]:
    return {"start": samples[0] / 1024, "peak": max(samples) / 1024, "end": samples[-1] / 1024}


async def measure(seconds: float, total: int, rounds: int) -> Results:
    """Alternate direct, wire and relay runs ``rounds`` times; keep the best of each."""
    echo = TcpEchoBackend()
    await echo.start()
    lab = WireUnderTest()
    relays = RelayUnderTest()
    try:
        return await _measure(echo, lab, relays, seconds, total, rounds)
    finally:
        relays.close()
        await lab.close()
        await echo.close()


async def _measure(echo: TcpEchoBackend, lab: WireUnderTest, relays: RelayUnderTest,
                   seconds: float, total: int, rounds: int) -> Results:
    loop = asyncio.get_running_loop()
    bare = await loop.create_server(lambda: _BareRelay(echo.address), "127.0.0.1", 0)
    relay, relay_pid = await relays.front(echo.address)
    assert relay_pid is not None
    targets = {"direct": echo.address, "wire": (await lab.front(echo.address))[0],
               "relay": relay, "bare relay": bare.sockets[0].getsockname()[:2]}
    rt = dict.fromkeys(targets, 0.0)
    cpu: dict[str, list[float]] = {name: [] for name in targets}  # µs per round trip
    for _ in range(rounds):
        for name, target in targets.items():
            here, there = time.process_time(), cpu_seconds(relay_pid)
            rate = await round_trips(target, seconds)
            trips = rate * seconds
            cpu[name].append((time.process_time() - here) / trips * 1e6)
            if name == "relay":  # the relay's own process works for it too
                cpu[name][-1] += (cpu_seconds(relay_pid) - there) / trips * 1e6
            rt[name] = max(rt[name], rate)
    bare.close()
    fronts: dict[str, Front | None] = {"direct": None, "wire": lab.front,
                                       "relay": relays.front}
    bw = dict.fromkeys(fronts, 0.0)
    rss: dict[str, list[int]] = {}
    for _ in range(rounds):
        for name, front in fronts.items():
            run = await bulk(total, front)
            if run.mb_per_s > bw[name]:
                bw[name], rss[name] = run.mb_per_s, run.rss_kib
        relays.close()  # one relay per bulk run: end them as they are done with
    return {
        "round_trips_per_s": rt,
        "round_trip_cpu_us": {name: min(values) for name, values in cpu.items()},
        "bulk_mb_per_s": bw,
        "wire_bulk_rss_mib": _rss(rss["wire"]),
        "relay_bulk_rss_mib": _rss(rss["relay"]),
        "capture": {"messages": float(len(lab.capture.messages))},
    }
