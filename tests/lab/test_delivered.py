"""What the Wire read and never delivered (lab/wire/leg.py, link.py, tap.py), over real
sockets on 127.0.0.1: a client that closes early (as `curl … | head -c 100` does)
leaves bytes the Wire read from the server and could not pass on; the capture marks
them on the messages (``undelivered``) and says so in a Wire note, and what it counts
as delivered is exactly what the client's TCP received."""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from lab import pcapng
from lab.capture import Capture
from lab.capture_lines import event_record
from lab.engine import Engine
from lab.export import capture_records, stored_from_records, to_har
from lab.model import Event, Message, MessageAmended, Piece, Sender, Transport
from lab.recorder import Recorder
from lab.store import Stored, load, save
from lab.wire import TcpWire
from tests.lab.helpers import run
from tests.lab.test_wire import serving, until, wired

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="what the peer's TCP received is read from Linux's TCP_INFO")

BIG = 24 * 1024 * 1024  # more than the kernel's buffers on both ends hold


def bytes_received(sock: socket.socket) -> int:
    """What this socket's TCP received (tcpi_bytes_received), read or not."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("=Q", info, 128)[0])


async def small_client(port: int, request: bytes) -> socket.socket:
    """A client socket with a small receive buffer, connected and its request sent."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, request)
    return sock


async def read_some(sock: socket.socket, count: int) -> bytes:
    loop = asyncio.get_running_loop()
    got = b""
    while len(got) < count:
        chunk = await loop.sock_recv(sock, count - len(got))
        assert chunk, "the connection closed early"
        got += chunk
    return got


def blocked(wire: TcpWire) -> bool:
    """The Wire cannot write to its client: the client's window is full."""
    return any(link.client.transport is not None
               and link.client.transport.get_write_buffer_size() > 0 for link in wire.links)


async def close_early(sock: socket.socket, wire: TcpWire) -> int:
    """Once the Wire is blocked on the client, reset (close with bytes unread) and
    return what the client's TCP had received (nothing more is acknowledged after)."""
    await until(lambda: blocked(wire), 15)
    received = bytes_received(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return received


def notes(capture: Capture) -> list[str]:
    return [m.summary for m in capture.messages if m.injected]


def kept(capture: Capture, sender: Sender) -> list[Message]:
    return [m for m in capture.messages if m.sender is sender and not m.injected]


@asynccontextmanager
async def flood() -> AsyncIterator[int]:
    """A server that sends BIG bytes to whoever connects and sends a line."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            writer.write(b"z" * BIG)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async with serving(handler) as port:
        yield port


def test_a_client_that_closes_early_gets_its_undelivered_bytes_marked() -> None:
    async def main() -> None:
        capture = Capture()
        events: list[Event] = []
        capture.subscribe(events.append)
        async with flood() as port, wired(port, capture) as wire:
            sock = await small_client(wire.address[1], b"give\n")
            await read_some(sock, 100)
            received = await close_early(sock, wire)
            await until(lambda: all(c.closed is not None for c in capture.connections.values())
                        and bool(capture.connections), 15)
        sent = kept(capture, Sender.SERVER)
        read = sum(m.size for m in sent)
        assert read > received
        delivered = read - sum(m.undelivered for m in sent)
        assert delivered == received  # exactly what the client's TCP got
        assert any(m.undelivered for m in sent)
        assert notes(capture)[0].startswith(
            f"{read - received:,} bytes read from the server were never delivered: the client "
            "had closed the connection (reset); ")
        # what its TCP acknowledged may lag what it received (a delayed ACK): both said
        assert notes(capture)[0].endswith("bytes its TCP acknowledged")
        assert len(notes(capture)) == 1
        amended = [e.message for e in events if isinstance(e, MessageAmended)]
        assert amended and all(m.undelivered for m in amended)
        record = event_record(MessageAmended(amended[0]))
        assert record is not None and record["type"] == "amend"
        assert record["connection"] == amended[0].connection
        # the marks survive a file: JSON Lines (messages, then amend records), a .cslab
        # recorded as it happened, and one saved afterwards
        records = [r for e in events if (r := event_record(e)) is not None]
        assert [m.undelivered for m in stored_from_records(records).messages] == \
            [m.undelivered for m in capture.messages]
        recorder = Recorder(folder / "live.cslab")
        for event in events:
            recorder(event)
        recorder.close()
        saved = Stored(messages=list(capture.messages), connections=capture.connections)
        save(folder / "after.cslab", saved)
        for name in ("live.cslab", "after.cslab"):
            assert [m.undelivered for m in load(folder / name).messages] == \
                [m.undelivered for m in capture.messages], name

    folder = Path(tempfile.mkdtemp())
    run(main, 60)


def test_a_client_that_reads_everything_gets_no_note() -> None:
    async def main() -> None:
        capture = Capture()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            writer.write(b"k" * 300_000)
            await writer.drain()
            writer.close()

        async with serving(handler) as port, wired(port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"all\n")
            got = await reader.read(-1)
            writer.close()
            await until(lambda: bool(capture.connections) and all(
                c.closed is not None for c in capture.connections.values()), 15)
        assert len(got) == 300_000
        assert notes(capture) == []
        assert all(m.undelivered == 0 for m in capture.messages)

    run(main, 60)


def test_http_big_file_closed_early_counts_what_reached_the_client(tmp_path: Path) -> None:
    """`curl http://…/big.bin | head -c 100`, as the lab's HTTP server and its Wire see it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "big.bin").write_bytes(b"b" * BIG)

    async def main() -> None:
        engine = Engine()
        try:
            info = await engine.add_server("http", port=0, options={
                "root": str(site), "db": str(tmp_path / "notes.sqlite3")})
            port = int(info.address.rpartition(":")[2])
            wire = next(w for w in engine.routing.wires_of(info.id) if isinstance(w, TcpWire))
            sock = await small_client(
                port, b"GET /big.bin HTTP/1.1\r\nHost: lab.test\r\n\r\n")
            await read_some(sock, 100)
            received = await close_early(sock, wire)
            capture = engine.capture
            await until(lambda: bool(capture.connections) and all(
                c.closed is not None for c in capture.connections.values()), 15)
            response = kept(capture, Sender.SERVER)  # the response, incomplete at the end
            assert len(response) == 1
            message = response[0]
            assert message.undelivered > 0
            assert message.size - message.undelivered == received
            note = next(m for m in capture.messages if m.injected)
            assert note.summary.startswith(
                f"{message.undelivered:,} bytes read from the server were never delivered: "
                "the client had closed the connection (reset)")
            # the HAR says it too
            [entry] = to_har(capture_records(capture))["log"]["entries"]
            assert f"{message.undelivered:,} of its bytes never reached the client" in \
                entry["response"]["comment"]
        finally:
            await engine.shutdown()

    run(main, 90)


def test_the_pcapng_leaves_out_what_was_never_delivered_and_ends_with_the_clients_rst(
) -> None:
    capture = Capture(clock=lambda: 10.0)
    conn = capture.open(protocol="raw", transport=Transport.TCP, client="127.0.0.1:5000",
                        server="127.0.0.1:8080")
    capture.add(conn, Piece(sender=Sender.CLIENT, time=11.0, summary="ask", raw=b"give\n",
                            size=5))
    capture.add(conn, Piece(sender=Sender.SERVER, time=12.0, summary="lots", raw=b"z" * 5000,
                            size=5000))
    [marked] = capture.undelivered(conn, Sender.SERVER, 3000)
    assert marked.undelivered == 3000 and capture.messages[1] is marked
    note = "3,000 bytes read from the server were never delivered: the client had closed " \
           "the connection (reset)"
    capture.add(conn, Piece(sender=Sender.SERVER, time=12.0, summary=note, raw=b"", size=0),
                injected=True)
    capture.close(conn.id, "client connection lost: [Errno 104] Connection reset by peer")
    made = pcapng.packets(capture.messages, capture.connections)
    segments = [p.data[14 + 20:] for p in made]  # past Ethernet and IPv4
    flags = [segment[13] for segment in segments]
    payload = b"".join(segment[20:] for segment, flag in zip(segments, flags, strict=True)
                       if flag & pcapng.ACK and not flag & (pcapng.SYN | pcapng.RST))
    assert payload == b"give\n" + b"z" * 2000  # what reached the other side
    assert flags[-1] == pcapng.RST | pcapng.ACK
    assert not any(flag & pcapng.FIN for flag in flags)
    assert segments[-1][:2] == (5000).to_bytes(2, "big")  # the client's reset
    assert "3000 bytes read by the Wire never delivered" in made[4].comment
