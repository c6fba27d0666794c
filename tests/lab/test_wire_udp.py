"""The UDP Wire: datagrams cross both ways with one connection per client address,
and a server that refuses them (nothing listens) is told to whoever waits."""

from __future__ import annotations

import asyncio
import socket

from lab.capture import Capture
from lab.model import Sender, format_address
from lab.servers.echo import start_udp_echo
from lab.wire import UdpWire
from tests.lab.helpers import closed_udp_port, run
from tests.lab.test_wire import closed, until


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


async def _udp_client(address: tuple[str, int]) -> tuple[asyncio.DatagramTransport, _Datagrams]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Datagrams, remote_addr=address)
    return transport, proto


async def _ask(client: tuple[asyncio.DatagramTransport, _Datagrams], data: bytes) -> bytes:
    client[0].sendto(data)
    return await asyncio.wait_for(client[1].got.get(), 5)


def test_udp_datagrams_cross_both_ways_one_connection_per_client() -> None:
    async def main() -> None:
        capture = Capture()
        backend = await start_udp_echo({})
        wire = UdpWire(capture, listen=("127.0.0.1", 0), target=backend.address,
                       protocol="udp-echo")
        await wire.start()
        a = await _udp_client(wire.address)
        b = await _udp_client(wire.address)
        assert await _ask(a, b"a1") == b"a1"
        assert await _ask(b, b"\x00\xff") == b"\x00\xff"
        assert await _ask(a, b"a2") == b"a2"
        assert len(capture.connections) == 2
        assert len(wire.sessions) == 2
        c1, c2 = capture.connections.values()
        assert c1.client == f"127.0.0.1:{a[0].get_extra_info('sockname')[1]}"
        assert c2.client == f"127.0.0.1:{b[0].get_extra_info('sockname')[1]}"
        assert c1.server == c2.server == wire.public_address
        by_conn = {cid: [(m.sender, m.raw) for m in capture.messages if m.connection == cid]
                   for cid in ("c1", "c2")}
        assert by_conn["c1"] == [(Sender.CLIENT, b"a1"), (Sender.SERVER, b"a1"),
                                 (Sender.CLIENT, b"a2"), (Sender.SERVER, b"a2")]
        assert by_conn["c2"] == [(Sender.CLIENT, b"\x00\xff"), (Sender.SERVER, b"\x00\xff")]
        assert capture.messages[0].protocol == "udp-echo"
        await wire.stop()
        assert len(closed(capture)) == 2 and wire.sessions == {}
        for t, _ in (a, b):
            t.close()
        await backend.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
            again.bind(wire.address)  # stop() freed the port

    run(main)


def test_a_silent_udp_peer_expires_and_comes_back_as_a_new_connection() -> None:
    async def main() -> None:
        capture = Capture()
        counts: list[int] = []
        backend = await start_udp_echo({})
        wire = UdpWire(capture, listen=("127.0.0.1", 0), target=backend.address, idle=0.2,
                       on_count=counts.append)
        await wire.start()
        client = await _udp_client(wire.address)
        assert await _ask(client, b"ping") == b"ping"
        assert capture.connections["c1"].closed is None
        await until(lambda: capture.connections["c1"].closed is not None, timeout=3)
        assert wire.sessions == {}
        assert counts == [1, 0]
        assert await _ask(client, b"again") == b"again"
        assert capture.connections["c2"].closed is None
        assert [m.connection for m in capture.messages] == ["c1", "c1", "c2", "c2"]
        client[0].close()
        await wire.stop()
        await backend.close()
        assert capture.connections["c2"].closed is not None

    run(main)


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


def test_a_refused_datagram_is_told_to_whoever_waits_for_its_client() -> None:
    async def main() -> None:
        capture = Capture()
        port = closed_udp_port()
        wire = UdpWire(capture, listen=("127.0.0.1", 0), target=("127.0.0.1", port))
        await wire.start()
        client = await _udp_client(wire.address)
        local = format_address(*client[0].get_extra_info("sockname")[:2])
        waiting = asyncio.ensure_future(wire.upstream_error(local))
        client[0].sendto(b"anyone there?")
        assert isinstance(await asyncio.wait_for(waiting, 5), ConnectionRefusedError)
        # Refused again with no one waiting; then a server comes, and the client's
        # next datagram is answered: the old refusal is no news to a new wait.
        client[0].sendto(b"and now?")
        await until(lambda: len(capture.messages) == 2)
        await asyncio.sleep(0.1)  # the refusal comes back
        loop = asyncio.get_running_loop()
        server, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", port))
        assert await _ask(client, b"again") == b"again"
        waiting = asyncio.ensure_future(wire.upstream_error(local))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        waiting.cancel()
        client[0].close()
        await wire.stop()
        server.close()
        assert capture.connections["c1"].note == ""  # it answers now: no "unreachable"

    run(main)
