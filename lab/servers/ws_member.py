"""The chat server's members (lab/servers/ws.py): the connection that counts its
client's pings, and a member's outbox."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode

#: Pings a member may send a second, over a burst of PING_BURST (2 s worth).
PING_RATE = 50
PING_BURST = 2 * PING_RATE
PING_FLOOD = f"ping flood: more than {PING_RATE} pings a second"


def not_reading(waiting: int) -> str:
    """The reason a member that does not read is closed with."""
    return f"you are not reading: {waiting // 1024:,} KiB waiting"


class ChatConnection(ServerConnection):
    """websockets' server connection, counting the pings its client sends in a token
    bucket: once a ping finds the bucket empty, ``flooding`` is set, ``on_flood``
    (the room's, which closes it) is called once and the connection reads no more."""

    on_flood: Callable[[ChatConnection], None] | None = None
    flooding = False
    _tokens = float(PING_BURST)
    _stamp = 0.0

    def process_event(self, event: object) -> None:
        super().process_event(event)  # type: ignore[arg-type]
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            now = self.loop.time()
            if self._stamp:
                self._tokens = min(float(PING_BURST),
                                   self._tokens + (now - self._stamp) * PING_RATE)
            self._stamp = now
            self._tokens -= 1
            if self._tokens < 0 and not self.flooding:
                self.flooding = True
                if self.on_flood is not None:
                    self.on_flood(self)
                # read no more of it: each ping read would write a pong
                self.transport.pause_reading()


class Member:
    """One member: its name and its outbox, the lines waiting to be sent to it (each
    with its size in bytes, one tuple shared by every outbox), sent by its own task."""

    __slots__ = ("conn", "gone", "lines", "name", "task", "waiting", "wake")

    def __init__(self, conn: ServerConnection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.lines: deque[tuple[str, int]] = deque()
        self.waiting = 0
        self.wake = asyncio.Event()
        #: Why the room closed it ("": it was not closed by the room).
        self.gone = ""
        self.task: asyncio.Task[None] | None = None

    def backlog(self) -> int:
        """Bytes in its outbox and in its connection's write buffer."""
        return self.waiting + self.conn.transport.get_write_buffer_size()
