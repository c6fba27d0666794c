"""A server behind its Wire learns who the client really is (lab/peers.py): the Wire's
socket to the server stands for the client's address while it is open, and a note the
server makes lands on the client's Connection in the capture."""

from __future__ import annotations

import asyncio
import socket

from lab import peers
from lab.capture import Capture
from lab.model import Sender
from lab.wire import TcpWire, UdpWire
from tests.lab.helpers import run


def test_a_tcp_server_behind_the_wire_sees_the_client_and_notes_on_its_connection() -> None:
    async def main() -> None:
        seen: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            await reader.readline()
            seen.put_nowait((peers.client_host(peer), peers.of(peer).port))  # type: ignore[union-attr]
            peers.note(peer, "Server refused: a test note")
            writer.write(b"ok\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        capture = Capture()
        wire = TcpWire(capture, listen=("127.0.0.1", 0),
                       target=server.sockets[0].getsockname()[:2])
        await wire.start()
        before = peers.count()
        reader, writer = await asyncio.open_connection(*wire.address)
        own_port = writer.get_extra_info("sockname")[1]
        writer.write(b"hello\n")
        assert await reader.readline() == b"ok\n"
        assert await seen.get() == ("127.0.0.1", own_port)  # the client's, not the Wire's
        writer.close()
        for _ in range(200):
            if peers.count() == before:
                break
            await asyncio.sleep(0.01)
        notes = [m for m in capture.messages if m.injected]
        assert [(m.sender, m.summary) for m in notes] == [
            (Sender.SERVER, "Server refused: a test note")]
        assert notes[0].client.endswith(f":{own_port}")
        assert peers.count() == before  # forgotten when the connection closed
        await wire.stop()
        server.close()
        await server.wait_closed()

    run(main)


def test_a_udp_server_behind_the_wire_sees_the_client() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        answers: list[str] = []

        class Server(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                peer = peers.of(addr)
                answers.append("" if peer is None else f"{peer.host}:{peer.port}")
                self.transport.sendto(b"ok", addr)  # type: ignore[attr-defined]

        transport, _ = await loop.create_datagram_endpoint(
            Server, local_addr=("127.0.0.1", 0))
        wire = UdpWire(Capture(), listen=("127.0.0.1", 0),
                       target=transport.get_extra_info("sockname")[:2])
        await wire.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))
            client.settimeout(5)
            client.sendto(b"hi", wire.address)
            assert await loop.run_in_executor(None, client.recv, 10) == b"ok"
            assert answers == [f"127.0.0.1:{client.getsockname()[1]}"]
        await wire.stop()
        transport.close()

    run(main)


def test_behind_two_wires_in_a_row_the_server_still_sees_the_first_client() -> None:
    """``cslab relay`` in front of a lab server's Wire: the client is the relay's client,
    not the relay's socket on this machine."""
    async def main() -> None:
        seen: asyncio.Queue[int] = asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            peer = peers.of(writer.get_extra_info("peername"))
            seen.put_nowait(peer.port if peer is not None else 0)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        inner = TcpWire(Capture(), listen=("127.0.0.1", 0),
                        target=server.sockets[0].getsockname()[:2])
        await inner.start()
        outer = TcpWire(Capture(), listen=("127.0.0.1", 0), target=inner.address)
        await outer.start()
        reader, writer = await asyncio.open_connection(*outer.address)
        writer.write(b"hello\n")
        assert await asyncio.wait_for(seen.get(), 10) == writer.get_extra_info("sockname")[1]
        writer.close()
        await outer.stop()
        await inner.stop()
        server.close()

    run(main)
