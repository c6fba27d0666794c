"""The echo client: sends text or bytes to a server and collects what comes back.

Like netcat with a reply timer: over TCP it keeps one connection open and
reads until as many bytes came back as were sent (or the wait runs out); over
UDP each send is one datagram and the reply is the next datagram. UDP has no
connection: "connect" only opens a socket aimed at the server.

While a Wire of its engine steps (lab/hold.py), the wait for a reply does not run
out: the message may be held at the Wire until the user forwards it. The client
says once that it keeps waiting, and looks again every STEP_LOOK seconds whether
step mode is still on; once it is off, the reply gets REPLY_WAIT more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.clients import Router, Routes, Seen, patience
from lab.datagram import send_datagram
from lab.hold import Patience, as_given
from lab.model import Outcome, Transport, format_address, parse_address

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

REPLY_WAIT = 2.0
#: How often a wait stretched by step mode looks whether step mode is still on (s).
STEP_LOOK = 0.25


class EchoClientError(Exception):
    """Something a user can act on: not connected, refused, timed out."""


class _UdpReceiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.error: Exception | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.error = exc


class _ReplyClock:
    """A reply's wait: ``wait`` seconds, or for as long as step mode is on (asked of
    ``patient``), then ``wait`` more; ``waiting()`` is called once when the plain
    wait has run out while stepping."""

    def __init__(self, wait: float, patient: Patience,
                 waiting: Callable[[], None] | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.wait, self.patient, self.waiting = wait, patient, waiting
        self.start = self.loop.time()
        self.end = self.start + wait
        self.told = False

    def left(self) -> float:
        """Seconds to wait now before asking again (0 or less: the wait is over)."""
        now = self.loop.time()
        if self.patient(self.wait) <= self.wait:  # no Wire steps
            return self.end - now
        if not self.told and now >= self.start + self.wait:
            self.told = True
            if self.waiting is not None:
                self.waiting()
        self.end = max(self.end, now + self.wait)
        return min(self.end - now, STEP_LOOK)


class EchoClient:
    """A TCP or UDP echo client. ``connect``, then ``send`` as often as needed, then ``close``."""

    def __init__(self, transport: Transport = Transport.TCP) -> None:
        self.transport = transport
        self.local: str = ""
        self.remote: str = ""
        self.answered = False  # the last send got a reply (an empty datagram counts)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_rx: _UdpReceiver | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None or self._udp is not None

    async def connect(self, host: str, port: int, timeout: float = 5.0) -> None:
        await self.close()
        where = format_address(host, port)
        try:
            if self.transport is Transport.TCP:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), timeout
                )
                self._reader, self._writer = reader, writer
                sock = writer.get_extra_info("sockname")
            else:
                loop = asyncio.get_running_loop()
                rx = _UdpReceiver()
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: rx, remote_addr=(host, port)
                )
                self._udp_rx = rx
                sock = self._udp.get_extra_info("sockname")
        except TimeoutError:
            raise EchoClientError(f"no answer from {where} after {timeout:g} s") from None
        except OSError as exc:
            raise EchoClientError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        self.local = format_address(*sock[:2])
        self.remote = where

    async def send(self, data: bytes, wait: float = REPLY_WAIT, *,
                   patient: Patience = as_given,
                   waiting: Callable[[], None] | None = None) -> bytes:
        """Send ``data``; return what came back within ``wait`` seconds (maybe less),
        or for as long as ``patient`` says a Wire steps (``waiting()`` once then)."""
        clock = _ReplyClock(wait, patient, waiting)
        self.answered = False  # set when a reply comes (over UDP an empty datagram is one)
        if self._writer is not None and self._reader is not None:
            try:
                self._writer.write(data)
                await self._writer.drain()
                return await self._collect_tcp(self._reader, len(data), clock)
            except ConnectionError as exc:
                await self.close()
                raise EchoClientError(f"{self.remote}: {exc.strerror or exc}") from None
        if self._udp is not None and self._udp_rx is not None:
            send_datagram(self._udp, data)  # an empty one too
            return await self._next_datagram(self._udp_rx, clock)
        raise EchoClientError("not connected: connect to a server first")

    async def _next_datagram(self, rx: _UdpReceiver, clock: _ReplyClock) -> bytes:
        """The next datagram, or b"" when none came in time (or the socket closed)."""
        while (left := clock.left()) > 0 and self._udp_rx is rx:
            try:
                reply = await asyncio.wait_for(rx.queue.get(), left)
            except TimeoutError:
                continue
            self.answered = True
            return reply
        if rx.error is not None:
            raise EchoClientError(f"{self.remote}: {rx.error}") from None
        return b""

    async def _collect_tcp(self, reader: asyncio.StreamReader, want: int,
                           clock: _ReplyClock) -> bytes:
        got = bytearray()
        while len(got) < want:
            left = clock.left()
            if left <= 0 or self._reader is not reader:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                continue
            if not chunk:
                await self.close()
                if not got:
                    raise EchoClientError(f"{self.remote} closed the connection")
                break
            got += chunk
        return bytes(got)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
        if self._udp is not None:
            self._udp.close()
            self._udp = None
            self._udp_rx = None


def parse_payload(text: str, as_hex: bool) -> bytes:
    """The bytes a user typed: UTF-8 text, or hex digits (spaces and ``0x`` allowed)."""
    if not as_hex:
        return text.encode("utf-8")
    cleaned = text.replace("0x", "").replace(",", " ").split()
    try:
        return bytes.fromhex("".join(cleaned))
    except ValueError:
        raise ValueError("not hex: use pairs of 0-9 a-f, e.g. 48 65 6c 6c 6f") from None


# ---- the echo kind: a session the engine holds, and its actions ---------------------

#: Lines of the log a view carries (the newest).
LOG_LIMIT = 500


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the echo client's log: ``what`` is "sent", "came back", "nothing
    came back" or "note"; ``data`` the bytes (empty for a note, whose text is ``text``)."""

    time: float
    what: str
    data: bytes = b""
    text: str = ""


@dataclass(frozen=True, slots=True)
class EchoView:
    """What the echo panel shows: connected or not, over which transport, from which
    local address to which server, and the log (its newest LOG_LIMIT lines; ``total``
    counts every line ever logged, so a view can tell how many are new)."""

    connected: bool = False
    transport: str = ""
    local: str = ""
    remote: str = ""
    log: tuple[LogLine, ...] = ()
    total: int = 0


class EchoSession:
    """The echo kind's client object: an EchoClient connected through the router
    (so an outside server is reached through an outbound Wire, and captured)."""

    def __init__(self, route: Router, seen: Seen | None = None) -> None:
        self._route = route
        self._seen = seen
        #: A reply's timeout, stretched while a Wire of the engine steps.
        self.patient = patience(route)
        self.client: EchoClient | None = None
        self.log: list[LogLine] = []
        self.total = 0

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    async def connect(self, target: str, transport: Transport) -> EchoClient:
        await self.close()
        if not target.strip():
            raise EchoClientError("no server: choose a running lab server or type host:port")
        try:
            host, port = parse_address(target)
        except ValueError as exc:
            raise EchoClientError(str(exc)) from None
        shown = format_address(host, port)
        routed = await self._route(transport, host, port, "raw")
        client = EchoClient(transport)
        await client.connect(*routed)
        if transport is Transport.TCP and routed != (host, port) and isinstance(
                self._route, Routes) and self._route.upstream_result is not None:
            note = await self._route.upstream_result(routed, client.local)
            if note:  # the outbound Wire could not reach the real server
                await client.close()
                raise EchoClientError(f"cannot connect to {note.removeprefix('server ')}")
        client.remote = shown  # errors name the server, not the outbound Wire
        if self._seen is not None:
            self._seen(client.local)
        self.client = client
        return client

    def note(self, what: str, data: bytes = b"", text: str = "") -> None:
        self.log.append(LogLine(time.time(), what, data, text))
        del self.log[:-LOG_LIMIT]
        self.total += 1

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.close()


def _show(handle: ClientHandle, session: EchoSession) -> None:
    client = session.client
    handle.show(view=EchoView(session.connected, client.transport.value if client else "",
                              client.local if client else "", client.remote if client else "",
                              tuple(session.log), session.total))


async def _connect(handle: ClientHandle, session: EchoSession) -> EchoClient:
    """Connect to the ``server`` setting over the ``transport`` setting, and log it."""
    transport = Transport(handle.setting("transport", "tcp") or "tcp")
    client = await session.connect(handle.address("server"), transport)
    if transport is Transport.UDP:
        session.note("note", text=f"UDP socket open on {client.local}, sending to "
                                  f"{client.remote} (UDP has no connection)")
    else:
        session.note("note", text=f"connected over TCP from {client.local} to "
                                  f"{client.remote}")
    _show(handle, session)
    return client


async def _send(handle: ClientHandle, session: EchoSession, text: str) -> bytes:
    """Send ``text`` (hex digits when the ``hex`` setting is true), connecting first
    if need be; what came back (b"" when nothing did). Over UDP an empty ``text``
    sends an empty datagram (a real one: the server answers it)."""
    data = parse_payload(text, handle.setting("hex") == "true")  # before connecting
    if not data and handle.setting("transport") != "udp":  # UDP: an empty datagram is one
        raise ValueError("nothing to send: type some text first")
    client = session.client if session.connected else await _connect(handle, session)
    assert client is not None
    session.note("sent", data)
    _show(handle, session)

    def waiting() -> None:
        session.note("note", text=f"still waiting: step mode is on, so the Wire may hold "
                                  f"the message until it is forwarded (no {REPLY_WAIT:g} s "
                                  f"limit while stepping)")
        _show(handle, session)

    reply = await client.send(data, patient=session.patient, waiting=waiting)
    answered = bool(reply) or client.answered
    session.note("came back" if answered else "nothing came back", reply)
    if not client.connected:
        session.note("note", text="the server closed the connection")
    _show(handle, session)
    return reply


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``connect``, ``send TEXT`` (connecting first if need be; hex digits when the
    ``hex`` setting is true), ``close``. Settings: server, transport (tcp or udp)."""
    session: EchoSession = handle.obj
    try:
        if verb == "close":
            if session.client is not None:
                udp = session.client.transport is Transport.UDP
                await session.close()
                session.note("note", text="socket closed" if udp else "disconnected")
            _show(handle, session)
            return Outcome("closed")
        if verb == "connect":
            client = await _connect(handle, session)
            said = (f"ready to send to {client.remote} (UDP: no connection)"
                    if client.transport is Transport.UDP else f"connected to {client.remote}")
            return Outcome(said, {"ok": True, "text": ""})
        if verb != "send":
            return Outcome(f"the echo client cannot {verb!r}", {"ok": False, "text": ""})
        reply = await _send(handle, session, " ".join(args))
    except (EchoClientError, ValueError) as exc:
        session.note("note", text=str(exc))
        _show(handle, session)
        return Outcome(str(exc), {"ok": False, "text": str(exc)})
    text = reply.decode("utf-8", "replace")
    answered = bool(reply) or bool(session.client and session.client.answered)
    return Outcome(f"came back: {text!r}" if answered else "nothing came back",
                   {"ok": True, "reply": text, "text": text})
