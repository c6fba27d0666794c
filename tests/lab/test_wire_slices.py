"""A large read on a socket that sends many small messages is relayed a slice per turn
of the event loop (lab/wire/leg.py), so one client's burst of pipelined commands cannot
keep every other connection waiting; a bulk transfer's reads go on whole."""

from __future__ import annotations

import asyncio
import socket

from lab.capture import Capture
from lab.lan import Caps
from lab.model import MessageCaptured, Sender
from lab.wire import TcpWire, UdpWire
from lab.wire.base import UDP_YIELD
from lab.wire.leg import MANY, SLICE, _Leg


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


def test_a_stepping_wire_holds_a_large_read_one_slice_at_a_time_in_order() -> None:
    async def run() -> tuple[bytes, list[int], bytes]:
        got = bytearray()

        async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                got.extend(data)

        server = await asyncio.start_server(sink, "127.0.0.1", 0)
        wire = TcpWire(Capture(), listen=("127.0.0.1", 0),
                       target=server.sockets[0].getsockname()[:2], protocol="http")
        await wire.start()
        wire.set_step(True)
        reader, writer = await asyncio.open_connection(*wire.address)
        body = b"A" * 30_000
        request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n\r\n" + body
        writer.write(request)
        await writer.drain()
        held_counts: list[int] = []
        for _ in range(20):  # forward whatever is held, oldest first, until all is through
            await asyncio.sleep(0.05)
            held = wire.holds.messages()
            held_counts.append(len(held))
            for chunk in held:
                wire.holds.forward(chunk.id)
            if len(got) >= len(request):
                break
        writer.close()
        await wire.stop()
        server.close()
        return request, held_counts, bytes(got)

    request, held_counts, got = asyncio.run(run())
    assert got == request  # whole and in order
    assert max(held_counts) == 1  # never more than one chunk held at a time


def test_a_udp_client_refused_at_the_cap_gets_in_once_there_is_room() -> None:
    async def run() -> bytes | None:
        loop = asyncio.get_running_loop()

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(data, addr)

        echo, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        wire = UdpWire(Capture(), listen=("127.0.0.1", 0),
                       target=echo.get_extra_info("sockname")[:2], protocol="raw")
        wire.caps = Caps(per_client=0, total=2)
        await wire.start()
        flood = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        for sock in flood:
            sock.sendto(b"flood", wire.address)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setblocking(False)
        await asyncio.sleep(0.1)
        client.sendto(b"first try", wire.address)  # refused: the cap is full
        await asyncio.sleep(UDP_YIELD + 0.5)  # the flood's sessions have gone quiet
        while True:  # drop the flood's echoes and anything else already there
            try:
                client.recv(100)
            except BlockingIOError:
                break
        client.sendto(b"retry", wire.address)  # the same port tries again
        answer = None
        for _ in range(20):
            await asyncio.sleep(0.05)
            try:
                answer = client.recv(100)
                break
            except BlockingIOError:
                pass
        for sock in (*flood, client):
            sock.close()
        await wire.stop()
        echo.close()
        return answer

    assert asyncio.run(run()) == b"retry"
