"""A load run: N concurrent keep-alive clients against one server for a bounded time.

Each client loops request after request (HTTP over one keep-alive connection, or a
line to a TCP echo server) until the run's time is up; every second a ``LoadSample``
(requests/s, errors, p50/p90/p99 latency) goes to the callback. The clients connect
to where the router says (a lab server's Wire), so every request is captured.
The run stops by itself after ``seconds``; ``cancel`` stops it sooner.

A run names its connections: ``seen`` gets each client's local address
("host:port") once, as soon as it is connected and before its first request is
written, so whoever watches the capture (the UI samples a load run's traffic,
not the rest) knows a load client's messages from their first one.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from lab.model import Transport, format_address

MAX_CLIENTS = 500
MAX_SECONDS = 60.0
KINDS = ("http", "tcp")

Router = Callable[[Transport, str, int, str], Awaitable[tuple[str, int]]]
#: Called with "host:port" of each local socket a load client connects from.
Seen = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LoadSample:
    """One second of a run: ``second`` counts from 1."""

    second: int
    requests: int
    errors: int
    p50: float  # milliseconds
    p90: float
    p99: float

    @property
    def rate(self) -> float:
        return float(self.requests)


@dataclass(frozen=True, slots=True)
class LoadSummary:
    requests: int
    errors: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values`` by nearest rank; 0 if empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def local_address(transport: asyncio.BaseTransport | None) -> str | None:
    """``host:port`` of the local end of a connected socket, None if it has none."""
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return None
    return format_address(str(sockname[0]), int(sockname[1]))


class _NamingConnector(aiohttp.TCPConnector):
    """aiohttp's connector, telling ``name`` of every connection it hands out
    (pooled ones again: ``name`` keeps only new addresses) before a request is
    written on it."""

    def __init__(self, name: Callable[[str | None], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._name = name

    async def connect(self, req: aiohttp.ClientRequest, traces: list[Any],
                      timeout: aiohttp.ClientTimeout) -> Connection:
        conn = await super().connect(req, traces, timeout)
        self._name(local_address(conn.transport))
        return conn


def _split(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class LoadRun:
    """``await run()`` (or ``start()`` then ``wait()``); ``cancel()`` to stop early.

    ``seen`` (optional, settable until the run starts) is called on the run's loop
    with each new local address of its clients; ``endpoints`` holds them all.
    """

    def __init__(self, router: Router, target: str, *, kind: str = "http", path: str = "/",
                 clients: int = 10, seconds: float = 5.0,
                 on_sample: Callable[[LoadSample], None] | None = None,
                 seen: Seen | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown load kind {kind!r}; known: {', '.join(KINDS)}")
        if not 1 <= clients <= MAX_CLIENTS:
            raise ValueError(f"clients must be 1-{MAX_CLIENTS}")
        if not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be more than 0 and at most {MAX_SECONDS:g}")
        self.router = router
        self.host, self.port = _split(target)
        self.kind = kind
        self.path = path if path.startswith("/") else "/" + path
        self.clients = clients
        self.seconds = seconds
        self.on_sample = on_sample
        self.seen = seen
        self.endpoints: set[str] = set()
        self.samples: list[LoadSample] = []
        self.requests = 0
        self.errors = 0
        self._latencies: list[float] = []
        self._second_requests = 0
        self._second_errors = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[LoadSummary] | None = None
        self._elapsed = 0.0

    def start(self) -> asyncio.Task[LoadSummary]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    async def wait(self) -> LoadSummary:
        return await self.start()

    def cancel(self) -> None:
        """Stop the clients; the run ends (with a last partial sample) soon after."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> LoadSummary:
        transport = Transport.TCP
        host, port = await self.router(transport, self.host, self.port,
                                       "http" if self.kind == "http" else "raw")
        begun = time.monotonic()
        deadline = begun + self.seconds
        session: aiohttp.ClientSession | None = None
        if self.kind == "http":
            connector = _NamingConnector(self._name, limit=self.clients, force_close=False)
            session = aiohttp.ClientSession(connector=connector,
                                            timeout=aiohttp.ClientTimeout(total=10))
        url = f"http://{format_address(host, port)}{self.path}"
        workers = [asyncio.create_task(self._worker(session, url, host, port, deadline))
                   for _ in range(self.clients)]
        ticker = asyncio.create_task(self._tick(begun, deadline))
        try:
            stop = asyncio.create_task(self._stop.wait())
            timer = asyncio.create_task(asyncio.sleep(self.seconds))
            await asyncio.wait({stop, timer}, return_when=asyncio.FIRST_COMPLETED)
            self._stop.set()
            for t in (stop, timer):
                t.cancel()
            await asyncio.wait(workers, timeout=2.0)
        finally:
            self._stop.set()
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self._flush(len(self.samples) + 1, final=True)
            if session is not None:
                await session.close()
        self._elapsed = min(time.monotonic() - begun, self.seconds)
        return LoadSummary(self.requests, self.errors, self._elapsed)

    async def _tick(self, begun: float, deadline: float) -> None:
        second = 1
        while True:
            await asyncio.sleep(max(0.0, begun + second - time.monotonic()))
            self._flush(second)
            second += 1

    def _name(self, address: str | None) -> None:
        """Tell ``seen`` of a client's local address, once."""
        if address is None or address in self.endpoints:
            return
        self.endpoints.add(address)
        if self.seen is not None:
            self.seen(address)

    def _flush(self, second: int, final: bool = False) -> None:
        if final and self._second_requests == 0 and self._second_errors == 0:
            return
        lat = self._latencies
        sample = LoadSample(second, self._second_requests, self._second_errors,
                            percentile(lat, 50), percentile(lat, 90), percentile(lat, 99))
        self._latencies = []
        self._second_requests = self._second_errors = 0
        self.samples.append(sample)
        if self.on_sample is not None:
            self.on_sample(sample)

    def _count(self, started: float, ok: bool) -> None:
        if ok:
            self.requests += 1
            self._second_requests += 1
            self._latencies.append((time.monotonic() - started) * 1000)
        else:
            self.errors += 1
            self._second_errors += 1

    async def _worker(self, session: aiohttp.ClientSession | None, url: str,
                      host: str, port: int, deadline: float) -> None:
        if session is not None:
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        self._count(started, response.status < 500)
                except (aiohttp.ClientError, OSError, TimeoutError):
                    self._count(started, False)
                    await asyncio.sleep(0.05)
            return
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(host, port)
            self._name(local_address(writer.transport))
            line = b"ping\n"
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    writer.write(line)
                    await writer.drain()
                    await asyncio.wait_for(reader.readexactly(len(line)), 5.0)
                    self._count(started, True)
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    self._count(started, False)
                    return
        except OSError:
            self._count(time.monotonic(), False)
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
