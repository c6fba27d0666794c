"""Clients that never read do not grow the Wire: toward a peer that does not read, the
Wire's socket holds at most ``UNSENT_LIMIT`` unsent bytes, so the Wire stops reading
the other side and TCP's flow control holds the sender back (without the cap the Wire
read, captured and kept ~4 MiB for each such client: 50 clients, +236 MiB)."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
from pathlib import Path

from lab.capture import Capture
from lab.model import Sender
from lab.servers.http import start_http
from lab.wire import TcpWire
from lab.wire.leg import UNSENT_LIMIT
from tests.lab.helpers import run
from tests.lab.test_wire import until

CLIENTS = 50
BIG = 16 * 1024 * 1024


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n".encode())
    try:
        return await asyncio.wait_for(reader.read(), 15)
    finally:
        writer.close()


async def settled(wire: TcpWire, quiet: float = 0.5, timeout: float = 30.0) -> None:
    """Until the Wire has read nothing more for ``quiet`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last, since = -1, loop.time()
    while loop.time() - since < quiet:
        total = sum(link.read[Sender.SERVER] for link in wire.links)
        if total != last:
            last, since = total, loop.time()
        assert loop.time() < deadline, "the Wire kept reading"
        await asyncio.sleep(0.05)


def test_fifty_clients_that_never_read_leave_the_process_bounded(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "big.bin").write_bytes(os.urandom(BIG))
    (site / "index.html").write_text("<p>still here</p>")

    async def main() -> None:
        backend = await start_http({"root": str(site), "db": str(tmp_path / "n.sqlite3")})
        capture = Capture()
        wire = TcpWire(capture, listen=("127.0.0.1", 0), target=backend.address)
        await wire.start()
        loop = asyncio.get_running_loop()
        sockets: list[socket.socket] = []
        try:
            port = wire.address[1]
            assert (await get(port, "/index.html")).startswith(b"HTTP/1.1 200")  # warm
            await until(lambda: not wire.links)
            gc.collect()
            before = rss_mib()
            for _ in range(CLIENTS):
                sock = socket.socket()
                sock.setblocking(False)
                sockets.append(sock)
                await loop.sock_connect(sock, ("127.0.0.1", port))
                await loop.sock_sendall(sock, b"GET /big.bin HTTP/1.1\r\nHost: lab\r\n\r\n")
            await until(lambda: sum(1 for link in wire.links
                                    if link.read[Sender.SERVER]) >= CLIENTS, timeout=30)
            await settled(wire)
            grown = rss_mib() - before
            links = list(wire.links)
            read = [link.read[Sender.SERVER] for link in links]
            # what waits toward each client: the cap, asyncio's buffer, its receive buffer
            assert max(read) < 4 * UNSENT_LIMIT + 512 * 1024, read
            assert grown < 64, f"+{grown:.0f} MiB for {CLIENTS} clients that do not read"
            answer = await get(port, "/index.html")  # a client that reads is answered
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"still here</p>")
            for link in links:  # what crossed is captured, byte for byte
                assert link.conn is not None
                got = sum(m.size for m in capture.messages
                          if m.connection == link.conn.id and m.sender is Sender.SERVER
                          and not m.injected)
                assert got == link.read[Sender.SERVER]
            ids = [link.conn.id for link in links if link.conn is not None]
            for sock in sockets:
                sock.close()
            sockets.clear()
            await until(lambda: all(capture.connections[i].closed is not None for i in ids),
                        timeout=15)
            for conn_id in ids:  # what the clients never got is counted as undelivered
                messages = [m for m in capture.messages
                            if m.connection == conn_id and m.sender is Sender.SERVER]
                assert sum(m.undelivered for m in messages) > 0
                assert any("never delivered" in m.summary for m in messages if m.injected)
        finally:
            for sock in sockets:
                sock.close()
            await wire.stop()
            await backend.close()

    run(main, timeout=120)
