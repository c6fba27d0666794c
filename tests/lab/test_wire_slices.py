"""A large read on a socket that sends many small messages is relayed a slice per turn
of the event loop (lab/wire_leg.py), so one client's burst of pipelined commands cannot
keep every other connection waiting; a bulk transfer's reads go on whole."""

from __future__ import annotations

import asyncio

from lab.capture import Capture
from lab.model import MessageCaptured, Sender
from lab.wire import TcpWire
from lab.wire_leg import MANY, SLICE, _Leg


class _Link:
    """Records what it is handed; each chunk "made" ``messages`` messages."""

    def __init__(self, messages: int) -> None:
        self.messages = messages
        self.chunks: list[bytes] = []
        self.ended = False

    def received(self, leg: _Leg, data: bytes) -> int:
        self.chunks.append(data)
        return self.messages

    def eof(self, leg: _Leg) -> None:
        self.ended = True

    def lost(self, leg: _Leg, exc: Exception | None) -> None:
        self.ended = True


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return False


def _leg(messages: int = MANY) -> tuple[_Leg, _Link, _Transport]:
    link = _Link(messages)
    leg = _Leg(link, Sender.CLIENT)  # type: ignore[arg-type]
    transport = _Transport()
    leg.transport = transport
    return leg, link, transport


def test_a_dense_large_read_goes_on_a_slice_a_turn_with_reading_paused() -> None:
    async def run() -> None:
        leg, link, transport = _leg()
        data = bytes(range(256)) * (3 * SLICE // 256 + 7)  # three slices and a bit
        leg.data_received(data)
        assert link.chunks == [data[:SLICE]] and transport.paused
        for _ in range(10):
            await asyncio.sleep(0)
        assert [len(c) for c in link.chunks] == [SLICE, SLICE, SLICE, len(data) - 3 * SLICE]
        assert b"".join(link.chunks) == data and not transport.paused
        leg.data_received(b"small")  # a small read goes on at once, whole
        assert link.chunks[-1] == b"small"

    asyncio.run(run())


def test_a_large_read_of_few_messages_goes_on_at_once() -> None:
    async def run() -> None:
        leg, link, transport = _leg(messages=1)  # a bulk transfer: part of one message
        data = b"b" * (8 * SLICE)
        leg.data_received(data)  # a first large read: its first slice is not dense
        assert link.chunks == [data[:SLICE], data[SLICE:]] and not transport.paused
        leg.data_received(data)  # the next goes on whole, as it came
        assert link.chunks[2:] == [data] and not transport.paused
        leg.data_received(b"GET / HTTP/1.1\r\n\r\n")  # one message in a small read: dense
        leg.data_received(data)  # so the next large one is looked at a slice first
        assert link.chunks[4:] == [data[:SLICE], data[SLICE:]] and not transport.paused

    asyncio.run(run())


def test_the_end_of_a_connection_relays_what_is_left_first() -> None:
    async def run() -> None:
        leg, link, _ = _leg()
        data = b"x" * (2 * SLICE + 5)
        leg.data_received(data)
        assert len(link.chunks) == 1  # one slice so far
        leg.connection_lost(None)
        assert b"".join(link.chunks) == data and link.ended
        await asyncio.sleep(0)  # the slice still scheduled finds nothing left
        assert b"".join(link.chunks) == data

    asyncio.run(run())


def test_a_burst_of_pipelined_lines_reaches_the_server_whole_and_captured() -> None:
    async def run() -> tuple[bytes, bytes, int]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        capture = Capture()
        sizes: list[int] = []
        capture.subscribe(lambda e: sizes.append(e.message.size)
                          if isinstance(e, MessageCaptured) else None)
        wire = TcpWire(capture, listen=("127.0.0.1", 0),
                       target=server.sockets[0].getsockname()[:2], protocol="smtp")
        await wire.start()
        burst = b"NOOP\r\n" * 50_000  # 300 KB, read in large reads
        reader, writer = await asyncio.open_connection(*wire.address)
        writer.write(burst)
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(len(burst)), 30)
        writer.close()
        await wire.stop()
        server.close()
        return burst, got, sum(sizes)

    burst, got, captured = asyncio.run(run())
    assert got == burst  # through the Wire and back, whole and in order
    assert captured >= 2 * len(burst)  # every byte both ways in the capture's messages
