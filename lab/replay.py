"""Replay: re-send a captured client's bytes to its server as a new connection.

The new connection goes through the lab (the server's Wire, or the outbound Wire
the engine's router made for an outside server), so its exchange is captured
like any other and can be compared with the original. Only whole messages are
re-sent: a message whose bytes the capture kept only a prefix of (``truncated``)
is refused. The original's shape is kept: if its server spoke first (an SMTP,
POP3 or FTP greeting) the replay waits for the greeting; after each client
message the original's server answered, it waits for the answer (until quiet,
within a bound) before sending the next, so request/response protocols line up.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lab.capture import Capture
from lab.datagram import send_datagram
from lab.hold import Patience, as_given
from lab.model import Connection, Message, Sender, Transport, format_address
from lab.wire import TcpWire, UdpWire

#: An answer is complete once the server has been quiet this long (seconds)…
QUIET = 0.3
#: …and is not waited for longer than this (more while a Wire steps).
LIMIT = 5.0
CONNECT_TIMEOUT = 5.0
#: How long to look for the Wire's record of the new connection (seconds).
FIND_WAIT = 1.0
ANY_HOST = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class ReplayError(Exception):
    """The replay cannot start; the message says why, for a user."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    """What a replay did. ``connection``: the new connection's id in the capture
    (None if the Wire never saw it); ``error``: what stopped it early, if anything."""

    original: str
    connection: str | None
    local: str
    server: str
    messages: int
    sent: int
    received: int
    error: str = ""

    @property
    def text(self) -> str:
        """One line for a status bar."""
        new = self.connection or self.local
        noun = "message" if self.messages == 1 else "messages"
        text = (f"Replay of {self.original} as {new}: sent {self.messages} {noun} "
                f"({self.sent:,} bytes), received {self.received:,} bytes")
        return f"{text}; {self.error}" if self.error else text


@dataclass(frozen=True, slots=True)
class _Step:
    message: Message
    answered: bool  # the original server answered before the next client message


def plan(capture: Capture, connection_id: str,
         message_ids: Sequence[int] | None = None) -> tuple[Connection, bool, list[_Step]]:
    """The connection, whether its server spoke first, and what to send: its client
    messages (``message_ids`` only, if given), each with whether it was answered.
    ReplayError if the connection is unknown, a data connection, or a message
    cannot be re-sent."""
    conn = capture.connection(connection_id)
    if conn is None:
        raise ReplayError(f"no connection {connection_id!r} in the capture")
    if conn.parent is not None:
        raise ReplayError(f"{conn.id} is an FTP data connection: replay its control "
                          f"connection {conn.parent} instead (the server hands out a new "
                          "data address anyway)")
    ours = capture.messages_of(conn.id)
    wanted = set(message_ids) if message_ids is not None else None
    steps: list[_Step] = []
    for n, message in enumerate(ours):
        if wanted is None:
            if message.sender is not Sender.CLIENT or message.injected:
                continue
        elif message.id not in wanted:
            continue
        _check(message)
        following = next((m for m in ours[n + 1:] if not m.injected), None)
        steps.append(_Step(message, following is not None
                           and following.sender is Sender.SERVER))
    if wanted is not None and len(steps) < len(wanted):
        missing = sorted(wanted - {s.message.id for s in steps})
        raise ReplayError(f"#{missing[0]} is not a message of {conn.id}")
    if not steps:
        raise ReplayError(f"{conn.id} has no client message to re-send")
    first = next((m for m in ours if not m.injected), None)
    return conn, first is not None and first.sender is Sender.SERVER, steps


def _check(message: Message) -> None:
    if message.sender is not Sender.CLIENT:
        raise ReplayError(f"#{message.id} is the server's: replay re-sends what a "
                          "client sent")
    if message.truncated:
        raise ReplayError(f"#{message.id} cannot be re-sent: the capture kept only its "
                          f"first {len(message.raw):,} of {message.size:,} bytes")
    if not message.raw:
        raise ReplayError(f"#{message.id} has no bytes to re-send (a note of the Wire)")


def target(conn: Connection, wires: Iterable[TcpWire | UdpWire]) -> tuple[str, int]:
    """Where to connect to reach ``conn``'s server through the lab: the Wire whose
    address the connection went to (a lab server's, a relay's, or the outbound
    Wire the router made for an outside server), else the same lab server's Wire
    on its new port. ReplayError if none is there any more."""
    kind = UdpWire if conn.transport is Transport.UDP else TcpWire
    same = [w for w in wires if isinstance(w, kind) and not w.reverse]
    wire = (next((w for w in same if w.public_address == conn.server), None)
            or next((w for w in same if conn.node and w.node == conn.node), None))
    if wire is None:
        raise ReplayError(f"the server of {conn.id} ({conn.server}) is not running in the "
                          "lab any more: start it again to replay")
    host, port = wire.address[:2]
    return ANY_HOST.get(host, host), port


async def replay(capture: Capture, connection_id: str,
                 message_ids: Sequence[int] | None = None, *,
                 wires: Iterable[TcpWire | UdpWire],
                 quiet: float = QUIET, limit: float = LIMIT,
                 patient: Patience = as_given) -> ReplayResult:
    """Re-send connection ``connection_id``'s client messages (or only
    ``message_ids``) to its server as a new connection, and close it; ``patient``
    stretches the wait for answers while a Wire of the engine steps. ReplayError
    if it cannot start (see ``plan`` and ``target``, or the server refuses); an
    error on the way is in the result, with what was sent until then."""
    conn, greets, steps = plan(capture, connection_id, message_ids)
    host, port = target(conn, wires)
    start = capture.clock()
    session = (_Tcp if conn.transport is Transport.TCP else _Udp)(quiet, limit, patient)
    await session.connect(host, port)
    error = ""
    try:
        if greets:
            await session.answer(True)
        for step in steps:
            await session.send(step.message.raw)
            await session.answer(step.answered)
    except (OSError, EOFError) as exc:
        error = str(exc) if isinstance(exc, EOFError) else (
            f"connection lost: {exc.strerror or exc}")
    finally:
        await session.close()
    new = await _find(capture, conn.transport, session.local, start)
    return ReplayResult(original=conn.id, connection=new, local=session.local,
                        server=format_address(host, port), messages=session.count,
                        sent=session.sent, received=session.received, error=error)


async def _find(capture: Capture, transport: Transport, local: str,
                since: float) -> str | None:
    """The id of the connection the Wire opened for ``local`` (it may lag a little)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + FIND_WAIT
    while True:
        for conn in reversed(capture.connections.values()):
            if conn.client == local and conn.transport is transport and conn.opened >= since:
                return conn.id
        if loop.time() >= end:
            return None
        await asyncio.sleep(0.02)


class _Session(ABC):
    """One new connection: send bytes, wait for answers, count both."""

    def __init__(self, quiet: float, limit: float, patient: Patience = as_given) -> None:
        self.quiet = quiet
        self.limit = limit
        self.patient = patient
        self.local = ""
        self.count = 0
        self.sent = 0
        self.received = 0

    async def answer(self, expected: bool) -> None:
        """Take what the server sends: if ``expected``, wait for its first bytes (up
        to the limit), then until it has been quiet a while; else only what is there."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.patient(self.limit)
        got = 0
        while True:
            left = end - loop.time()
            wait = min(self.quiet if got else (left if expected else 0.0), left)
            if wait <= 0:
                return
            try:
                data = await asyncio.wait_for(self.read(), wait)
            except TimeoutError:
                return
            if not data:  # the server closed: nothing more will come
                return
            got += len(data)
            self.received += len(data)

    @abstractmethod
    async def connect(self, host: str, port: int) -> None:
        """Open the new connection (ReplayError if refused) and set ``local``."""

    @abstractmethod
    async def send(self, data: bytes) -> None:
        """Send one message's bytes (EOFError or OSError if the connection is gone)."""

    @abstractmethod
    async def read(self) -> bytes:
        """The next bytes from the server; empty once it closed."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connection."""


class _Tcp(_Session):
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter | None = None

    async def connect(self, host: str, port: int) -> None:
        where = format_address(host, port)
        try:
            self.reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        except TimeoutError:
            raise ReplayError(f"no answer from {where} after {CONNECT_TIMEOUT:g} s") from None
        except OSError as exc:
            raise ReplayError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        self.writer = writer
        self.local = format_address(*writer.get_extra_info("sockname")[:2])

    async def send(self, data: bytes) -> None:
        assert self.writer is not None
        if self.writer.is_closing() or self.reader.at_eof():
            raise EOFError(f"the server closed the connection after {self.count} "
                           f"message{'s' if self.count != 1 else ''}")
        self.writer.write(data)
        await self.writer.drain()
        self.count += 1
        self.sent += len(data)

    async def read(self) -> bytes:
        return await self.reader.read(65536)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | OSError] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.queue.put_nowait(exc)


class _Udp(_Session):
    """Every datagram from one new socket: the Wire sees one new peer."""

    transport: asyncio.DatagramTransport | None = None
    protocol: _Datagrams

    async def connect(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.protocol = _Datagrams()
        try:
            self.transport, _ = await loop.create_datagram_endpoint(
                lambda: self.protocol, remote_addr=(host, port))
        except OSError as exc:
            raise ReplayError(f"cannot reach {format_address(host, port)}: "
                              f"{exc.strerror or exc}") from None
        self.local = format_address(*self.transport.get_extra_info("sockname")[:2])

    async def send(self, data: bytes) -> None:
        assert self.transport is not None
        send_datagram(self.transport, data)  # an empty one too
        self.count += 1
        self.sent += len(data)

    async def read(self) -> bytes:
        item = await self.protocol.queue.get()
        if isinstance(item, OSError):
            raise item
        return item

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
