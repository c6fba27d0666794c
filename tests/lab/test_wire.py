"""The Wire relays real sockets on 127.0.0.1 both ways, and captures what crosses it."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import pytest

from lab.capture import Capture
from lab.model import Connection, Message, Sender
from lab.wire import PortInUseError, TcpWire, UdpWire
from tests.lab.helpers import EchoServer, open_fds, run

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[int]:
    """A plain asyncio server running ``handler``; yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def wired(target_port: int, capture: Capture | None = None) -> AsyncIterator[TcpWire]:
    wire = TcpWire(capture or Capture(), listen=("127.0.0.1", 0),
                   target=("127.0.0.1", target_port))
    await wire.start()
    try:
        yield wire
    finally:
        await wire.stop()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def closed(capture: Capture) -> list[Connection]:
    return [c for c in capture.connections.values() if c.closed is not None]


async def read_all(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    try:
        while chunk := await reader.read(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return bytes(out)


def replay(messages: Sequence[Message], sender: Sender, data: bytes) -> None:
    """The messages from ``sender`` are ``data`` cut in order (raw may be a prefix)."""
    offset = 0
    for m in messages:
        if m.sender is sender:
            assert m.raw == data[offset:offset + len(m.raw)]
            assert len(m.raw) == m.size or m.truncated
            offset += m.size
    assert offset == len(data)


# ---- forwarding and capture -------------------------------------------------------


def test_a_conversation_is_forwarded_and_captured_in_order_with_senders() -> None:
    async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    async def main() -> None:
        capture = Capture()
        async with serving(shout) as port, wired(port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)
            me = f"127.0.0.1:{writer.get_extra_info('sockname')[1]}"
            for word in (b"one\n", b"two\n", b"three\n"):
                writer.write(word)
                assert await reader.readline() == word.upper()
            writer.close()
            await writer.wait_closed()
            await until(lambda: len(closed(capture)) == 1)
        msgs = capture.messages
        assert [(m.sender, m.raw) for m in msgs] == [
            (Sender.CLIENT, b"one\n"), (Sender.SERVER, b"ONE\n"),
            (Sender.CLIENT, b"two\n"), (Sender.SERVER, b"TWO\n"),
            (Sender.CLIENT, b"three\n"), (Sender.SERVER, b"THREE\n"),
        ]
        assert {(m.client, m.server, m.connection) for m in msgs} == {
            (me, wire.public_address, "c1")
        }
        assert msgs[0].source == me and msgs[1].source == wire.public_address
        assert [m.id for m in msgs] == [1, 2, 3, 4, 5, 6]

    run(main)


def test_a_megabyte_of_binary_crosses_unchanged_both_ways() -> None:
    data = os.urandom(1024 * 1024)

    async def main() -> None:
        capture = Capture()
        async with EchoServer() as echo, wired(echo.port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)

            async def send() -> None:
                writer.write(data)
                await writer.drain()
                writer.write_eof()

            sending = asyncio.create_task(send())
            back = await read_all(reader)
            await sending
            writer.close()
            await until(lambda: len(closed(capture)) == 1)
        assert back == data
        replay(capture.messages, Sender.CLIENT, data)
        replay(capture.messages, Sender.SERVER, data)

    run(main)


def test_half_close_from_the_client_lets_the_server_answer_after_eof() -> None:
    got: list[bytes] = []

    async def count_then_answer(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # up to the client's EOF
        got.append(data)
        for part in (b"got %d bytes\n" % len(data), b"and more after your EOF\n"):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.close()

    async def main() -> None:
        capture = Capture()
        async with serving(count_then_answer) as port, wired(port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"x" * 5000)
            await writer.drain()
            writer.write_eof()
            answer = await read_all(reader)  # returns at the server's EOF
            assert await reader.read() == b""
            writer.close()
            await until(lambda: len(closed(capture)) == 1)
            assert wire.links == set()
        assert got == [b"x" * 5000]
        assert answer == b"got 5000 bytes\nand more after your EOF\n"
        assert capture.messages[-1].sender is Sender.SERVER

    run(main)


def test_half_close_from_the_server_lets_the_client_keep_sending() -> None:
    got: list[bytes] = []

    async def greet_then_listen(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello, then I stop talking\n")
        writer.write_eof()
        got.append(await reader.read())
        writer.close()

    async def main() -> None:
        capture = Capture()
        async with serving(greet_then_listen) as port, wired(port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)
            assert await read_all(reader) == b"hello, then I stop talking\n"
            writer.write(b"still here\n")  # the server's EOF did not close our direction
            await writer.drain()
            writer.write_eof()
            await until(lambda: len(got) == 1)
            writer.close()
            await until(lambda: len(closed(capture)) == 1)
        assert got == [b"still here\n"]
        assert [m.sender for m in capture.messages] == [Sender.SERVER, Sender.CLIENT]

    run(main)


# ---- peers that vanish ----------------------------------------------------------------


async def _works(wire: TcpWire) -> None:
    reader, writer = await asyncio.open_connection(*wire.address)
    writer.write(b"still serving?")
    assert await reader.readexactly(14) == b"still serving?"
    writer.close()
    await writer.wait_closed()


def test_a_client_that_resets_mid_stream_closes_the_server_side() -> None:
    ended: list[str] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
            ended.append("eof")
        except ConnectionResetError:
            ended.append("reset")
        writer.close()

    async def main() -> None:
        capture = Capture()
        async with serving(echo) as port, wired(port, capture) as wire:
            _, writer = await asyncio.open_connection(*wire.address)
            writer.write(os.urandom(300_000))
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # SO_LINGER 0: the kernel sends RST
            await until(lambda: len(ended) == 1)
            await until(lambda: len(closed(capture)) == 1)
            assert wire.links == set()
            await _works(wire)
            await until(lambda: len(closed(capture)) == 2)
        first = capture.connections["c1"]
        assert first.closed is not None
        assert "client" in first.note  # says which side went away

    run(main)


def test_a_server_that_goes_away_mid_transfer_closes_the_client_side() -> None:
    async def vanish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)
        writer.write(b"partial answer")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def main() -> None:
        capture = Capture()
        async with serving(vanish) as port, wired(port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)

            async def stream() -> None:
                try:
                    for _ in range(200):
                        writer.write(bytes(65536))
                        await writer.drain()
                except ConnectionError:
                    pass

            streaming = asyncio.create_task(stream())
            received = await read_all(reader)  # ends: EOF or reset, not a hang
            assert received.startswith(b"partial") or received == b""
            writer.close()
            await streaming
            await until(lambda: len(closed(capture)) == 1)
            assert wire.links == set()
            async with EchoServer() as echo:
                wire.target = ("127.0.0.1", echo.port)
                await _works(wire)

    run(main)


def test_a_server_that_closes_cleanly_mid_transfer_ends_the_client() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)
        writer.write(b"bye")
        writer.close()

    async def main() -> None:
        capture = Capture()
        async with serving(hang_up) as port, wired(port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"x" * 100)
            assert await read_all(reader) == b"bye"
            writer.close()
            await until(lambda: len(closed(capture)) == 1)
            assert wire.links == set()

    run(main)


def test_a_thousand_connections_leave_no_task_socket_or_link_behind() -> None:
    async def main() -> None:
        capture = Capture()
        counts: list[int] = []
        async with EchoServer() as echo:
            wire = TcpWire(capture, listen=("127.0.0.1", 0), target=("127.0.0.1", echo.port),
                           on_count=counts.append)
            await wire.start()
            await _works(wire)  # warm up anything created once
            await until(lambda: not echo.writers and not wire.links)
            tasks_before = asyncio.all_tasks()
            fds_before = open_fds()
            gate = asyncio.Semaphore(50)

            async def one(i: int) -> None:
                async with gate:
                    reader, writer = await asyncio.open_connection(*wire.address)
                    payload = b"%d" % i
                    writer.write(payload)
                    assert await reader.readexactly(len(payload)) == payload
                    writer.close()
                    await writer.wait_closed()

            await asyncio.gather(*(one(i) for i in range(1000)))
            await until(lambda: not wire.links and not echo.writers, timeout=10)
            await until(lambda: asyncio.all_tasks() <= tasks_before, timeout=5)
            assert open_fds() <= fds_before + 3
            assert len(closed(capture)) == 1001
            assert len(capture.messages) == 2002
            assert counts[-1] == 0 and len(counts) == 2 * 1001  # each open and close shown
            await wire.stop()

    run(main, timeout=60)


def test_an_unreachable_server_closes_the_client_with_a_note() -> None:
    async def main() -> None:
        capture = Capture()
        with socket.socket() as bound:  # bound, never listening: connections are refused
            bound.bind(("127.0.0.1", 0))
            port = bound.getsockname()[1]
            async with wired(port, capture) as wire:
                reader, writer = await asyncio.open_connection(*wire.address)
                assert await read_all(reader) == b""
                writer.close()
                await until(lambda: len(closed(capture)) == 1)
                assert wire.links == set()
        conn = capture.connections["c1"]
        assert f"127.0.0.1:{port}" in conn.note
        assert "unreachable" in conn.note

    run(main)


def test_a_server_that_does_not_read_pushes_back_on_the_client() -> None:
    total = 50 * 1024 * 1024
    received = [0]
    paused: list[asyncio.Transport] = []

    class Stubborn(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            transport.pause_reading()
            paused.append(transport)

        def data_received(self, data: bytes) -> None:
            received[0] += len(data)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Stubborn, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with wired(port) as wire:
            _, writer = await asyncio.open_connection(*wire.address)
            sent = [0]
            chunk = bytes(256 * 1024)

            async def push() -> None:
                while sent[0] < total:
                    writer.write(chunk)
                    await writer.drain()
                    sent[0] += len(chunk)

            pushing = asyncio.create_task(push())
            await until(lambda: any(link.server.transport for link in wire.links))
            last, still_since = -1, loop.time()
            while loop.time() - still_since < 0.5:  # until the client stops making progress
                if sent[0] != last:
                    last, still_since = sent[0], loop.time()
                assert not pushing.done(), "all 50 MB went out to a server that reads nothing"
                [link] = wire.links
                for leg in (link.client, link.server):
                    assert leg.transport is not None
                    assert leg.transport.get_write_buffer_size() <= 1024 * 1024
                await asyncio.sleep(0.02)
            assert sent[0] < total // 2
            paused[0].resume_reading()  # the server reads again: everything flows
            await asyncio.wait_for(pushing, 20)
            await until(lambda: received[0] == total, timeout=20)
            writer.close()
        server.close()
        await server.wait_closed()

    run(main, timeout=60)


def test_a_port_in_use_is_named_in_the_error() -> None:
    async def main() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            wire = TcpWire(Capture(), listen=("127.0.0.1", port), target=("127.0.0.1", 9))
            with pytest.raises(PortInUseError) as err:
                await wire.start()
            assert f"port {port}" in str(err.value)
            assert "already in use" in str(err.value)
            await asyncio.wait_for(wire.stop(), 1)  # a Wire that never started stops at once
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken_udp:
            taken_udp.bind(("127.0.0.1", 0))
            port = taken_udp.getsockname()[1]
            udp = UdpWire(Capture(), listen=("127.0.0.1", port), target=("127.0.0.1", 9))
            with pytest.raises(PortInUseError, match=f"port {port}"):
                await udp.start()

    run(main)


def test_stop_cuts_open_connections_and_frees_the_port() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as echo:
            wire = TcpWire(capture, listen=("127.0.0.1", 0), target=("127.0.0.1", echo.port))
            await wire.start()
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"hi")
            assert await reader.readexactly(2) == b"hi"
            await wire.stop()
            assert await read_all(reader) == b""
            assert wire.links == set()
            assert len(closed(capture)) == 1
            writer.close()
            with socket.socket() as again:
                again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                again.bind(wire.address)

    run(main)
