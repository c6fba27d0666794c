"""The WebSocket chat server: websockets' asyncio server running one chat room.

A client joins by connecting with its name in the query of the path,
``ws://127.0.0.1:8765/?name=ana`` (no name: ``guest-1``, ``guest-2``…; a name
already in the room gets `` (2)``), so the name shows in the upgrade request the
inspector captures. Then:

- every text message is sent to everyone in the room, sender included, as
  ``ana: hello``;
- joins and leaves are announced to the room as ``* ana joined`` and
  ``* ana left``; the one who joins first gets ``* here now: ana, bob``;
- the server pings every client every ``ping_interval`` seconds (keepalive) and
  closes with 1011 a client whose pong has not come ``ping_timeout`` seconds later;
- a member that does not read (more than SLOW_LIMIT bytes, or two messages of
  ``max_size`` if that is more, waiting to be sent to it) gets no more lines: it
  is closed with 1013 "too slow: not reading" and cut off if the close cannot get
  through in CLOSE_TIMEOUT seconds, so one stalled client cannot make the
  server's memory grow; the room hears ``* sloth left (too slow: not reading)``;
- a message over ``max_size`` bytes closes that connection with 1009 (message too
  big) and websockets' reason; a binary message closes it with 1003 (this chat
  takes text only);
- stopping the server closes every connection with 1001 "server going away".

Compression (permessage-deflate) is off, so every frame reads in the inspector.
Options (all optional): ``max_size`` bytes (default 65536), ``ping_interval``
seconds (default 20), ``ping_timeout`` seconds (default 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from lab.servers import Backend

log = logging.getLogger(__name__)


class _HandshakeEofBug(logging.Filter):
    """Drops websockets' traceback for one bug of its own (17.4): an upgrade request
    without Sec-WebSocket-Version followed, in the same read, by more bytes makes its
    400 reply send EOF twice (``assert not self.eof_sent``). The connection is closed
    anyway and the capture shows the bad upgrade; the terminal need not show a traceback
    for each such client."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, AssertionError) or exc.__traceback__ is None:
            return True
        last = exc.__traceback__
        while last.tb_next is not None:
            last = last.tb_next
        return last.tb_frame.f_code.co_name != "send_eof"


logging.getLogger("websockets.server").addFilter(_HandshakeEofBug())

DEFAULT_MAX_SIZE = 64 * 1024
DEFAULT_PING_INTERVAL = 20.0
DEFAULT_PING_TIMEOUT = 10.0
NAME_LIMIT = 24
#: How long a closing handshake may take before the connection is cut.
CLOSE_TIMEOUT = 2.0
GOING_AWAY = "server going away"
TEXT_ONLY = "this chat takes text messages only"
#: Bytes waiting to be sent to one member beyond which it counts as not reading.
SLOW_LIMIT = 1024 * 1024
TOO_SLOW = "too slow: not reading"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEvent:
    """Something that happened in the room: ``action`` is ``"joined"``, ``"left"`` or
    ``"message"``; ``line`` is what the room was sent; ``members`` who is in it now;
    ``messages`` how many chat messages it has carried; ``serial`` counts the events
    (a watcher that also reads ``members()`` keeps whichever is newer)."""

    action: str
    name: str
    line: str
    members: tuple[str, ...]
    messages: int
    serial: int


RoomListener = Callable[[RoomEvent], None]


def name_from_path(path: str) -> str:
    """The ``name`` in the query of a request path, tidied (empty if none): control
    characters become spaces and the other invisible ones (format characters such as
    U+202E, which would turn the rest of a line around) are dropped."""
    values = parse_qs(urlsplit(path).query).get("name", [""])
    name = " ".join("".join(_tidy(c) for c in values[0]).split())
    return name[:NAME_LIMIT]


def _tidy(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc":
        return " "
    return "" if category[0] == "C" else char


class ChatBackend:
    """A running chat room at ``address``.

    ``members()`` lists who is in the room, in the order they joined, and
    ``backlog()`` the bytes waiting to be sent to each; ``messages`` counts chat
    messages and ``serial`` every event so far; ``watch(listener)`` calls
    ``listener(RoomEvent)`` on the engine's loop after each join, leave and message,
    and returns the unsubscriber.
    """

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE,
                 ping_interval: float = DEFAULT_PING_INTERVAL,
                 ping_timeout: float = DEFAULT_PING_TIMEOUT) -> None:
        self.max_size = max_size
        #: Bytes waiting for a member beyond which it is closed as too slow; a big
        #: max_size allows for a message being sent and one more behind it.
        self.slow_limit = max(SLOW_LIMIT, 2 * max_size)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self.messages = 0
        self.serial = 0
        self._room: dict[ServerConnection, str] = {}
        self._guests = 0
        self._listeners: list[RoomListener] = []
        self._server: Server | None = None
        #: Members closed for not reading, until they have left; the closing tasks.
        self._too_slow: set[ServerConnection] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def members(self) -> list[str]:
        return list(self._room.values())

    def backlog(self) -> dict[str, int]:
        """Bytes written for each member that its connection has not sent yet."""
        return {name: conn.transport.get_write_buffer_size()
                for conn, name in self._room.items()}

    def watch(self, listener: RoomListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return stop

    async def start(self) -> None:
        self._server = await serve(
            self._serve, "127.0.0.1", 0, compression=None, max_size=self.max_size,
            ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
            close_timeout=CLOSE_TIMEOUT, server_header="Client-Server Lab chat")
        self.address = self._server.sockets[0].getsockname()[:2]

    async def say_goodbye(self) -> None:
        """Close every connection with 1001 "server going away" and stop listening.

        The engine calls this before it stops the server's Wire, so that the
        close frames still reach the clients."""
        server = self._server
        if server is None:
            return
        server.close(code=CloseCode.GOING_AWAY, reason=GOING_AWAY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT * 2)

    async def close(self) -> None:
        await self.say_goodbye()
        self._server = None
        await asyncio.gather(*self._closing, return_exceptions=True)

    # -- the room ------------------------------------------------------------------

    def _unique(self, wanted: str) -> str:
        if not wanted:
            self._guests += 1
            wanted = f"guest-{self._guests}"
        taken = set(self._room.values())
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted} ({n})"
        return name

    async def _serve(self, conn: ServerConnection) -> None:
        path = conn.request.path if conn.request is not None else "/"
        name = self._unique(name_from_path(path))
        self._room[conn] = name
        await conn.send(f"* here now: {', '.join(self._room.values())}")
        self._tell("joined", name, f"* {name} joined")
        try:
            async for message in conn:
                if not isinstance(message, str):
                    await conn.close(CloseCode.UNSUPPORTED_DATA, TEXT_ONLY)
                    break
                self.messages += 1
                self._tell("message", name, f"{name}: {message}")
        except ConnectionClosed:
            pass  # too big, no pong, or gone: websockets has closed it with a code
        finally:
            del self._room[conn]
            why = f" ({TOO_SLOW})" if conn in self._too_slow else ""
            self._too_slow.discard(conn)
            self._tell("left", name, f"* {name} left{why}")

    def _tell(self, action: str, name: str, line: str) -> None:
        """Send ``line`` to everyone in the room who keeps up, then tell the watchers.

        websockets' ``broadcast`` does not wait for a slow reader: what a member
        does not read piles up in its write buffer. So a member with more than
        ``slow_limit`` bytes waiting is skipped and closed instead."""
        keeping_up = []
        for conn in self._room:
            if conn.transport.get_write_buffer_size() > self.slow_limit:
                self._drop(conn)
            else:
                keeping_up.append(conn)
        broadcast(keeping_up, line)
        self.serial += 1
        event = RoomEvent(action=action, name=name, line=line, serial=self.serial,
                          members=tuple(self._room.values()), messages=self.messages)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken watcher must not break the room
                log.exception("a chat room watcher failed")

    def _drop(self, conn: ServerConnection) -> None:
        if conn not in self._too_slow:
            self._too_slow.add(conn)
            task = asyncio.get_running_loop().create_task(self._close_slow(conn))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close_slow(self, conn: ServerConnection) -> None:
        """Close with 1013; the close frame waits behind all that the member has not
        read, so if the closing handshake is not over in CLOSE_TIMEOUT, cut it."""
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await conn.close(CloseCode.TRY_AGAIN_LATER, TOO_SLOW)
        except TimeoutError:
            conn.transport.abort()


def _number(options: dict[str, str], key: str, default: float, *, whole: bool) -> float:
    text = (options.get(key) or "").strip()
    if not text:
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = 0
    if value <= 0:
        unit = "a whole number of bytes" if whole else "a number of seconds"
        raise ValueError(f"{key} must be {unit} above 0, not {text!r}")
    return value


async def start_ws(options: dict[str, str]) -> Backend:
    backend = ChatBackend(
        max_size=int(_number(options, "max_size", DEFAULT_MAX_SIZE, whole=True)),
        ping_interval=_number(options, "ping_interval", DEFAULT_PING_INTERVAL, whole=False),
        ping_timeout=_number(options, "ping_timeout", DEFAULT_PING_TIMEOUT, whole=False))
    await backend.start()
    return backend
