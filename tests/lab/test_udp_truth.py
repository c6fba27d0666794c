"""Issue 16, item 9: an empty datagram is a datagram. Through the UDP Wire it crosses
both ways, is captured as a Message of size 0, and is held, lost or delayed as any
other; a datagram leaves whole under a bandwidth cap. Clients are plain Python
sockets; the server is a plain-socket echo (or the lab's DNS server)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import dns.message

from lab.capture import Capture
from lab.model import Message, Sender
from lab.servers.dns import start_dns
from lab.wire import UdpWire
from lab.wire.udp import EMPTY_DATAGRAM
from tests.lab.helpers import run
from tests.lab.test_wire import until


async def _echo(sock: socket.socket) -> None:
    """Echo every datagram, the empty one too (a plain socket's sendto sends it)."""
    loop = asyncio.get_running_loop()
    while True:
        data, addr = await loop.sock_recvfrom(sock, 65535)
        sock.sendto(data, addr)


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[tuple[str, int]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    task = asyncio.get_running_loop().create_task(_echo(sock))
    try:
        yield sock.getsockname()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


@contextlib.asynccontextmanager
async def wire_to(target: tuple[str, int], protocol: str = "udp-echo",
                  capture: Capture | None = None) -> AsyncIterator[UdpWire]:
    wire = UdpWire(capture or Capture(), listen=("127.0.0.1", 0), target=target,
                   protocol=protocol)
    await wire.start()
    try:
        yield wire
    finally:
        await wire.stop()


class Client:
    """A plain, non-blocking Python UDP socket."""

    def __init__(self, wire: UdpWire) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(wire.address)

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    async def receive(self, timeout: float = 5.0) -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(self.sock, 65535), timeout)

    async def nothing(self, within: float) -> bool:
        """Whether nothing arrives within ``within`` seconds (for a lost datagram)."""
        try:
            await self.receive(within)
        except TimeoutError:
            return True
        return False


def empties(capture: Capture) -> list[Message]:
    return [m for m in capture.messages if not m.injected and m.size == 0]


def test_an_empty_datagram_crosses_both_ways_and_is_captured() -> None:
    async def main() -> None:
        async with echo_server() as server, wire_to(server) as wire:
            client = Client(wire)
            client.send(b"")
            assert await client.receive() == b""
            client.send(b"after")  # and the session goes on
            assert await client.receive() == b"after"
            client.sock.close()
            capture = wire.capture
            sent = empties(capture)
            assert [(m.sender, m.summary, m.raw, m.size) for m in sent] == [
                (Sender.CLIENT, EMPTY_DATAGRAM, b"", 0),
                (Sender.SERVER, EMPTY_DATAGRAM, b"", 0)]
            assert [m.raw for m in capture.messages] == [b"", b"", b"after", b"after"]
            assert len(capture.connections) == 1

    run(main)


def test_an_empty_dns_datagram_is_a_malformed_query_and_the_server_goes_on() -> None:
    async def main() -> None:
        backend = await start_dns({})
        try:
            async with wire_to(backend.address, protocol="dns") as wire:
                client = Client(wire)
                client.send(b"")
                await until(lambda: bool(wire.capture.messages))
                first = wire.capture.messages[0]
                assert (first.sender, first.size, first.raw) == (Sender.CLIENT, 0, b"")
                assert first.malformed and "DNS" in first.summary
                query = dns.message.make_query("www.lab.test", "A")
                client.send(query.to_wire())
                answer = dns.message.from_wire(await client.receive())
                assert answer.id == query.id
                client.sock.close()
        finally:
            await backend.close()
        async with echo_server() as server, wire_to(server, protocol="dns") as wire:
            client = Client(wire)  # an empty datagram echoed: a DNS Wire forwards it too
            client.send(b"")
            assert await client.receive() == b""
            assert [(m.sender, m.malformed) for m in empties(wire.capture)] == [
                (Sender.CLIENT, True), (Sender.SERVER, True)]
            client.sock.close()

    run(main)


def test_an_empty_datagram_is_held_in_step_mode_and_forwarded() -> None:
    async def main() -> None:
        async with echo_server() as server, wire_to(server) as wire:
            wire.set_step(True)
            client = Client(wire)
            client.send(b"")
            await until(lambda: len(wire.holds) == 1)
            (held,) = wire.holds.messages()
            assert held.data == b"" and held.summary == EMPTY_DATAGRAM
            assert empties(wire.capture)[0].held
            wire.holds.forward(held.id)
            await until(lambda: len(wire.holds) == 1)  # the echo, held on its way back
            wire.holds.forward_all()
            assert await client.receive() == b""
            client.sock.close()

    run(main)


def test_an_empty_datagram_is_lost_or_delayed_as_any_datagram() -> None:
    async def main() -> None:
        async with echo_server() as server, wire_to(server) as wire:
            client = Client(wire)
            wire.set_faults(loss=1.0)
            client.send(b"")
            await until(lambda: any("dropped" in m.summary for m in wire.capture.messages))
            assert await client.nothing(0.3)
            assert [m.sender for m in empties(wire.capture)] == [Sender.CLIENT]
            wire.set_faults(loss=0.0, latency=100.0)
            client.send(b"")
            assert await client.receive() == b""
            assert len(empties(wire.capture)) == 3
            client.sock.close()

    run(main)


def test_a_datagram_leaves_whole_under_a_bandwidth_cap() -> None:
    async def main() -> None:
        async with echo_server() as server, wire_to(server) as wire:
            wire.set_faults(bandwidth=40_000)
            client = Client(wire)
            client.send(b"x" * 4000)  # more than one 2,000-byte slice of the cap
            assert await client.receive() == b"x" * 4000
            client.send(b"")
            assert await client.receive() == b""
            client.sock.close()

    run(main)


def test_the_labs_udp_echo_server_and_client_carry_an_empty_datagram() -> None:
    """The lab's own UDP echo server answers an empty datagram with one (as a direct
    echo does), and the lab's echo client sends one: both cross the Wire, captured."""
    async def main() -> None:
        from lab.engine import Engine

        engine = Engine()
        server = await engine.add_server("udp-echo", port=0)
        host, _, port = server.address.rpartition(":")
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect((host, int(port)))
        sock.send(b"")
        assert await asyncio.wait_for(loop.sock_recv(sock, 65535), 5.0) == b""
        sock.close()
        client = await engine.add_client("echo", settings={"server": server.address,
                                                           "transport": "udp"})
        outcome = await engine.client_act(client.id, "send", [""])
        sent = [(m.sender, m.size) for m in engine.capture.messages if not m.injected]
        await engine.shutdown()
        assert sent[:2] == [(Sender.CLIENT, 0), (Sender.SERVER, 0)]
        assert outcome.ok and sent[2:] == [(Sender.CLIENT, 0), (Sender.SERVER, 0)], (
            outcome, sent)
        assert outcome.shown == "came back: ''"  # an empty datagram is an answer

    run(main)
