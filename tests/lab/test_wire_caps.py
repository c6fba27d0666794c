"""Caps on a Wire's connections (lab.lan.Caps): over a cap, a connection is refused
clearly, with the Wire's note in the capture, and the others go on."""

from __future__ import annotations

import asyncio

from lab.capture import Capture
from lab.lan import Caps
from lab.servers.echo import start_udp_echo
from lab.wire import UdpWire
from tests.lab.helpers import EchoServer, run
from tests.lab.test_wire import closed, until, wired
from tests.lab.test_wire_udp import _ask, _udp_client


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _echoes(pair: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> bool:
    reader, writer = pair
    writer.write(b"ping")
    await writer.drain()
    return await asyncio.wait_for(reader.read(4), 5) == b"ping"


def test_a_tcp_connection_over_the_per_client_cap_is_closed_with_a_note() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as server, wired(server.port, capture) as wire:
            wire.caps = Caps(per_client=2)
            first, second = [await _connect(wire.address[1]) for _ in range(2)]
            assert await _echoes(first) and await _echoes(second)
            reader, writer = await _connect(wire.address[1])
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
            note = "Wire refused 127.0.0.1: more than 2 connections from one address"
            await until(lambda: any(c.note == note for c in closed(capture)))
            injected = [m for m in capture.messages if m.injected]
            assert [m.summary for m in injected] == [note]
            assert len(wire.links) == 2 and await _echoes(first)
            first[1].close()
            await until(lambda: len(wire.links) == 1)
            third = await _connect(wire.address[1])
            assert await _echoes(third)  # a slot freed: welcome again
            for _, w in (second, third, (reader, writer)):
                w.close()

    run(main)


def test_a_tcp_connection_over_the_total_cap_is_refused() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as server, wired(server.port, capture) as wire:
            wire.caps = Caps(total=1)
            first = await _connect(wire.address[1])
            assert await _echoes(first)
            reader, writer = await _connect(wire.address[1])
            assert await asyncio.wait_for(reader.read(), 5) == b""
            note = "Wire refused 127.0.0.1: more than 1 connection in all"
            await until(lambda: any(c.note == note for c in closed(capture)))
            for w in (first[1], writer):
                w.close()

    run(main)


def test_a_udp_client_over_the_cap_is_noted_once_and_dropped() -> None:
    async def main() -> None:
        capture = Capture()
        backend = await start_udp_echo({})
        wire = UdpWire(capture, listen=("127.0.0.1", 0), target=backend.address,
                       protocol="udp-echo")
        wire.caps = Caps(per_client=1)
        await wire.start()
        a = await _udp_client(wire.address)
        b = await _udp_client(wire.address)
        assert await _ask(a, b"one") == b"one"
        for _ in range(3):
            b[0].sendto(b"two")
        await asyncio.sleep(0.2)
        assert b[1].got.empty()
        notes = [m.summary for m in capture.messages if m.injected]
        assert notes == ["Wire refused 127.0.0.1: more than 1 connection from one address"]
        assert len(wire.sessions) == 1
        for transport, _ in (a, b):
            transport.close()
        await wire.stop()
        await backend.close()

    run(main)
