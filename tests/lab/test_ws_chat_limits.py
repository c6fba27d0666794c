"""The chat server against clients that misbehave: one that stops reading while the
room floods, one that never answers a ping. Raw sockets through the engine's Wire,
on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

from websockets.asyncio.client import connect

from lab.dissect.websocket import WebSocketDissector
from lab.model import Sender
from lab.servers.ws import CLOSE_TIMEOUT, DEFAULT_PING_TIMEOUT, SLOW_LIMIT, ChatBackend
from tests.lab.helpers import run
from tests.lab.test_ws_chat import chat_lab, until

#: The flood: 12 MB, more than the sockets on the way to a client that does not read
#: can hold (without a limit, about 4 MB of it was left waiting in the server).
FLOOD, LINE = 200, "z" * 60_000


def upgrade(name: str) -> bytes:
    key = base64.b64encode(os.urandom(16))
    return (b"GET /?name=" + name.encode() + b" HTTP/1.1\r\nHost: lab.test\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
            b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


async def join_without_reading(port: int, name: str) -> socket.socket:
    """A client that sends the upgrade and then reads nothing, with a small receive
    buffer so that the backlog builds up on the server's side."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, upgrade(name))
    return sock


async def read_to_end(sock: socket.socket, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    data = bytearray()
    async with asyncio.timeout(timeout):
        while chunk := await loop.sock_recv(sock, 1 << 16):
            data += chunk
    return bytes(data)


async def flood_the_room(port: int, backend: ChatBackend) -> None:
    """Send FLOOD lines as a client that reads its echoes; check that the bytes
    waiting for any member stay bounded meanwhile."""
    async with connect(f"ws://127.0.0.1:{port}/?name=flood", proxy=None,
                       compression=None, max_size=None) as flood:
        echoes = peak = 0

        async def count_echoes() -> None:
            nonlocal echoes, peak
            async for line in flood:  # each echo: a line was sent to everyone
                echoes += str(line).startswith("flood: ")
                peak = max(peak, *backend.backlog().values())

        counting = asyncio.create_task(count_echoes())
        for _ in range(FLOOD):
            await flood.send(LINE)
        await until(lambda: echoes == FLOOD, "the flood's own echoes", timeout=10)
        counting.cancel()
        # at most about one line beyond the limit waits for anyone
        assert peak < SLOW_LIMIT + 2 * len(LINE), peak


def test_a_member_that_does_not_read_is_closed_and_the_room_goes_on() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            sloth = await join_without_reading(lab.port, "sloth")
            try:
                await until(lambda: lab.backend.members() == ["sloth"], "sloth in")
                bob = await lab.client("bob")
                await flood_the_room(lab.port, lab.backend)
                await until(lambda: "* sloth left (too slow: not reading)" in bob.lines,
                            "sloth dropped", timeout=CLOSE_TIMEOUT + 5)
                assert sum(line.startswith("flood: ") for line in bob.lines) == FLOOD
                assert lab.backend.members() == ["bob"]
                # what reached sloth's socket before it was cut off, then the end
                assert (await read_to_end(sloth, 10)).startswith(b"HTTP/1.1 101 ")
            finally:
                sloth.close()

    run(main)


def test_the_too_slow_limit_leaves_room_for_two_messages_of_max_size() -> None:
    """A member that reads may still have one message of max_size being sent and
    one behind it (measured: about 9 MB waited with max_size 16 MiB); with a max_size
    over half of SLOW_LIMIT, that is the limit, not SLOW_LIMIT."""
    assert ChatBackend().slow_limit == SLOW_LIMIT
    assert ChatBackend(max_size=4 * 2**20).slow_limit == 8 * 2**20


def test_a_client_that_never_answers_a_ping_is_closed_with_1011() -> None:
    async def main() -> None:
        async with chat_lab(ping_interval="0.2", ping_timeout="0.6") as lab:
            reader, writer = await asyncio.open_connection("127.0.0.1", lab.port)
            try:
                writer.write(upgrade("ghost"))
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
                rest = await asyncio.wait_for(reader.read(), 5)  # to the server's end
            finally:
                writer.close()
            frames = [p.summary for p in WebSocketDissector().feed(Sender.SERVER, rest, 0.0)]
            assert frames[:2] == ['TEXT "* here now: ghost" (17 bytes)',
                                  'TEXT "* ghost joined" (14 bytes)']
            assert frames[2].startswith("PING") and not frames[3:-1]
            assert frames[-1] == 'CLOSE 1011 (internal error) "keepalive ping timeout"'
            messages = lab.engine.capture.messages
            ping = next(m for m in messages if m.summary.startswith("PING"))
            [close] = [m for m in messages if m.summary.startswith("CLOSE 1011")]
            assert close.time - ping.time >= 0.5  # ping_timeout, not ping_interval
            await until(lambda: lab.backend.members() == [], "ghost gone")
        assert ChatBackend().ping_timeout == DEFAULT_PING_TIMEOUT

    run(main)
