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
- each member has its own outbox: the lines waiting to be sent to it, bounded in
  bytes (``slow_limit``: SLOW_LIMIT, or two messages of ``max_size`` if that is
  more) and in lines (LINE_LIMIT). A line is one string shared by every outbox, so
  a line sent to a big room costs one copy plus a pointer per member. A member
  whose outbox is full is not reading: it gets no more lines, it is closed with
  1008 "you are not reading: N KiB waiting" and cut off if the close cannot get
  through in CLOSE_TIMEOUT seconds; the room hears ``* sloth left (too slow: not
  reading)``. The room as a whole also has a bound (``room_limit`` bytes waiting,
  all outboxes counted): past it, the member with the most waiting is closed the
  same way, so many members that do not read cannot add up without end;
- in a room of more than ANNOUNCE_LIMIT members joins and leaves are not announced
  one by one (that is n² frames for n joins): they are counted, and at most once
  every SUMMARY_EVERY seconds the room gets one summary,
  ``* 37 joined, 5 left (2 too slow: not reading); 812 here now``; who joins such a
  room gets the first HERE_NAMES names and how many more;
- a member that sends more than PING_RATE pings a second over PING_BURST / PING_RATE
  seconds (a token bucket of PING_BURST pings refilled at PING_RATE a second; see
  lab/servers/ws_member.py) is closed with 1008 "ping flood: more than 50 pings a
  second": each ping makes a pong, and a flood that reads none would pile them up;
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from lab.servers import Backend
from lab.servers.ws_member import PING_FLOOD, ChatConnection, Member, not_reading

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
#: How long a closing handshake may take before the connection is cut…
CLOSE_TIMEOUT = 2.0
#: …or, for a member closed for not reading that reads again, this many times as long.
CLOSE_ROUNDS = 5
GOING_AWAY = "server going away"
TEXT_ONLY = "this chat takes text messages only"
#: Bytes waiting in one member's outbox beyond which it counts as not reading…
SLOW_LIMIT = 1024 * 1024
#: …or lines waiting there.
LINE_LIMIT = 1000
#: Bytes waiting in all the outboxes together beyond which the worst reader goes.
ROOM_LIMIT = 32 * 1024 * 1024
TOO_SLOW = "too slow: not reading"
#: A room bigger than this hears a summary of joins and leaves, not each one…
ANNOUNCE_LIMIT = 50
#: …at most once every this many seconds.
SUMMARY_EVERY = 1.0
#: Names a newcomer to a big room is told ("* here now (812): ana, …, and 792 more").
HERE_NAMES = 20
@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEvent:
    """Something that happened in the room: ``action`` is ``"joined"``, ``"left"``,
    ``"message"`` or ``"closed"`` (see ChatBackend); ``line`` is what the room was
    sent; ``members`` who is in it now; ``messages`` how many chat messages it has
    carried; ``serial`` counts the events (a watcher that also reads ``members()``
    keeps whichever is newer)."""

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
    ``listener(RoomEvent)`` on the engine's loop after each join, leave and message
    (``line`` is "" for a join or leave the room only hears of in a summary), and
    when the room closes a member (``"closed"``, ``line`` the close's reason; its
    ``"left"`` follows once the connection is over); ``watch`` returns the
    unsubscriber.
    """

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE,
                 ping_interval: float = DEFAULT_PING_INTERVAL,
                 ping_timeout: float = DEFAULT_PING_TIMEOUT) -> None:
        self.max_size = max_size
        #: Bytes waiting for a member beyond which it is closed as too slow; a big
        #: max_size allows for a message being sent and one more behind it.
        self.slow_limit = max(SLOW_LIMIT, 2 * max_size)
        self.room_limit = max(ROOM_LIMIT, 4 * self.slow_limit)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self.messages = 0
        self.serial = 0
        #: Bytes waiting in all the outboxes together.
        self.waiting = 0
        self._room: dict[ServerConnection, Member] = {}
        self._guests = 0
        self._listeners: list[RoomListener] = []
        self._server: Server | None = None
        self._closing: set[asyncio.Task[None]] = set()
        #: Joins, leaves and leave reasons not announced yet (a big room's summary).
        self._pending: Counter[str] = Counter()
        self._summary: asyncio.TimerHandle | None = None

    def members(self) -> list[str]:
        return [member.name for member in self._room.values()]

    def backlog(self) -> dict[str, int]:
        """Bytes waiting for each member: in its outbox and its connection's buffer."""
        return {member.name: member.backlog() for member in self._room.values()}

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
            close_timeout=CLOSE_TIMEOUT, server_header="Client-Server Lab chat",
            create_connection=ChatConnection)
        self.address = self._server.sockets[0].getsockname()[:2]

    async def say_goodbye(self) -> None:
        """Close every connection with 1001 "server going away" and stop listening.

        The engine calls this before it stops the server's Wire, so that the
        close frames still reach the clients."""
        server = self._server
        if self._summary is not None:
            self._summary.cancel()
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
        taken = {member.name for member in self._room.values()}
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted} ({n})"
        return name

    def _here_now(self) -> str:
        names = [member.name for member in self._room.values()]
        if len(names) <= ANNOUNCE_LIMIT:
            return f"* here now: {', '.join(names)}"
        more = len(names) - HERE_NAMES
        return f"* here now ({len(names):,}): {', '.join(names[:HERE_NAMES])}, and {more:,} more"

    async def _serve(self, conn: ServerConnection) -> None:
        path = conn.request.path if conn.request is not None else "/"
        member = Member(conn, self._unique(name_from_path(path)))
        self._room[conn] = member
        if isinstance(conn, ChatConnection):
            conn.on_flood = self._flooded
        member.task = asyncio.get_running_loop().create_task(self._pump(member))
        self._post(member, self._here_now())
        self._announce("joined", member.name, "")
        try:
            async for message in conn:
                if not isinstance(message, str):
                    await conn.close(CloseCode.UNSUPPORTED_DATA, TEXT_ONLY)
                    break
                self.messages += 1
                self._tell("message", member.name, f"{member.name}: {message}")
        except ConnectionClosed:
            pass  # too big, no pong, or gone: websockets has closed it with a code
        finally:
            del self._room[conn]
            self._empty(member)
            if member.task is not None:
                member.task.cancel()
            self._announce("left", member.name, member.gone)

    def _announce(self, action: str, name: str, why: str) -> None:
        """A join or leave: told to everyone in a small room; counted for the next
        summary in a big one (its RoomEvent has no line then)."""
        if len(self._room) <= ANNOUNCE_LIMIT and not self._pending:
            self._tell(action, name, f"* {name} {action}" + (f" ({why})" if why else ""))
            return
        self._pending[action] += 1
        if why:
            self._pending[why] += 1
        if self._summary is None:
            self._summary = asyncio.get_running_loop().call_later(
                SUMMARY_EVERY, self._summarize)
        self._event(action, name, "")

    def _summarize(self) -> None:
        self._summary = None
        counts, self._pending = self._pending, Counter()
        whys = [f"{n:,} {why}" for why, n in counts.items() if why not in ("joined", "left")]
        parts = [f"{counts[a]:,} {a}" for a in ("joined", "left") if counts[a]]
        if whys:
            parts[-1] += f" ({', '.join(whys)})"
        self._tell("summary", "", f"* {', '.join(parts)}; {len(self._room):,} here now")

    def _tell(self, action: str, name: str, line: str) -> None:
        """Put ``line`` in the outbox of everyone in the room, then tell the watchers.

        A member whose outbox is full (bytes or lines) is closed instead; so is the
        member with the most waiting while the room's outboxes hold too much."""
        item = (line, len(line.encode()))
        for member in list(self._room.values()):
            if not member.gone:
                self._post(member, line, item)
        while self.waiting > self.room_limit:
            worst = max(self._room.values(), key=lambda m: m.waiting)
            self._drop(worst, not_reading(worst.backlog()))
        if action != "summary":
            self._event(action, name, line)

    def _post(self, member: Member, line: str, item: tuple[str, int] | None = None) -> None:
        item = item or (line, len(line.encode()))
        if member.waiting + item[1] > self.slow_limit or len(member.lines) >= LINE_LIMIT:
            self._drop(member, not_reading(member.backlog() + item[1]))
            return
        member.lines.append(item)
        member.waiting += item[1]
        self.waiting += item[1]
        member.wake.set()

    def _event(self, action: str, name: str, line: str) -> None:
        self.serial += 1
        event = RoomEvent(action=action, name=name, line=line, serial=self.serial,
                          members=tuple(self.members()), messages=self.messages)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken watcher must not break the room
                log.exception("a chat room watcher failed")

    async def _pump(self, member: Member) -> None:
        """Send a member's outbox in order; websockets' send waits while the
        connection's write buffer is over its limit (32 KiB), so that stays small."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                while not member.lines:
                    member.wake.clear()
                    await member.wake.wait()
                line, size = member.lines[0]
                await member.conn.send(line)
                if member.lines and member.lines[0][0] is line:
                    member.lines.popleft()
                    member.waiting -= size
                    self.waiting -= size

    def _empty(self, member: Member) -> None:
        self.waiting -= member.waiting
        member.waiting = 0
        member.lines.clear()

    def _flooded(self, conn: ChatConnection) -> None:
        member = self._room.get(conn)
        if member is not None:
            self._drop(member, PING_FLOOD, why="ping flood")

    def _drop(self, member: Member, reason: str, *, why: str = TOO_SLOW) -> None:
        """Close a member with 1008 and ``reason``: it gets no more lines."""
        if member.gone:
            return
        member.gone = why
        self._empty(member)
        self._event("closed", member.name, reason)
        if member.task is not None:
            member.task.cancel()
        task = asyncio.get_running_loop().create_task(self._close(member.conn, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, conn: ServerConnection, reason: str) -> None:
        """Close with 1008. The close frame waits behind what the member has not read:
        while that shrinks (it reads again), wait for it, CLOSE_TIMEOUT at a time, up
        to CLOSE_ROUNDS times; once it does not, cut the connection."""
        conn.close_timeout = None  # this decides when to cut, not websockets
        closing = asyncio.ensure_future(conn.close(CloseCode.POLICY_VIOLATION, reason))
        left = conn.transport.get_write_buffer_size()
        for _ in range(CLOSE_ROUNDS):
            done, _ = await asyncio.wait([closing], timeout=CLOSE_TIMEOUT)
            now = conn.transport.get_write_buffer_size()
            if done or now >= left:
                break
            left = now
        if not closing.done():
            conn.transport.abort()
        with contextlib.suppress(Exception):
            await closing


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
