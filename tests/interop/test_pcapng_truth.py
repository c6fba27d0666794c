"""tshark on the pcapng of what really crossed (lab/pcapng.py): after a message too
long to keep whole, the connection is still dissected (the sequence numbers go on
over the bytes not kept: a gap Wireshark marks and gets past); a connection the Wire
reset ends with RST, not FIN; bytes the Wire never delivered are not in the file."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from lab import pcapng
from lab.engine import Engine
from lab.model import RAW_LIMIT
from tests.lab.helpers import run
from tests.lab.test_wire import until

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None,
                                reason="tshark is not installed (apt-get install tshark)")


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def tshark(path: Path, port: int, display: str, *fields: str) -> list[str]:
    out = subprocess.run(["tshark", "-r", str(path), "-d", f"tcp.port=={port},http",
                          "-Y", display, "-T", "fields", "-E", "separator=|",
                          *[f for name in fields for f in ("-e", name)]],
                         capture_output=True, text=True, timeout=60, check=True)
    return [line for line in out.stdout.splitlines() if line.strip("|")]


def exchange(port: int, request: bytes, answers: int) -> bytes:
    """Send ``request`` on one connection and read until ``answers`` responses' heads
    and the connection's end or a short quiet (the last is a keep-alive)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        got = b""
        while got.count(b"HTTP/1.1 ") < answers or not got.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


async def _closed(engine: Engine) -> None:
    await until(lambda: bool(engine.capture.connections) and all(
        c.closed is not None for c in engine.capture.connections.values()), 15)


def test_a_long_post_then_a_get_on_the_same_connection_are_both_decoded(
        tmp_path: Path) -> None:
    body = b"p" * (100 * 1024)
    request = (b"POST /api/notes HTTP/1.1\r\nHost: lab.test\r\nContent-Type: text/plain\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
               + b"GET /style.css HTTP/1.1\r\nHost: lab.test\r\nConnection: close\r\n\r\n")
    out = tmp_path / "post.pcapng"

    async def main() -> int:
        engine = Engine()
        try:
            info = await engine.add_server("http", port=0,
                                           options={"db": str(tmp_path / "notes.sqlite3")})
            got = await asyncio.to_thread(exchange, _port(info.address), request, 2)
            assert got.count(b"HTTP/1.1 ") == 2, got[:300]
            await _closed(engine)
            post = next(m for m in engine.capture.messages if m.summary.startswith("POST"))
            assert post.truncated and len(post.raw) <= RAW_LIMIT < post.size
            pcapng.write(engine.capture.messages, engine.capture.connections, out)
            return _port(info.address)
        finally:
            await engine.shutdown()

    port = run(main, 60)
    requests = tshark(out, port, "http.request", "http.request.method", "http.request.uri")
    assert "GET|/style.css" in requests
    assert tshark(out, port, "tcp.analysis.lost_segment", "frame.number")  # the gap, marked
    responses = tshark(out, port, "http.response", "http.response.code")
    assert len(responses) == 2


def test_a_websocket_close_after_a_frame_too_long_to_keep_is_decoded(tmp_path: Path) -> None:
    out = tmp_path / "ws.pcapng"

    async def main() -> int:
        engine = Engine()
        try:
            chat = await engine.add_server("ws", port=0)

            def talk() -> int | None:
                with connect(f"ws://{chat.address}/?name=ann", proxy=None, compression=None,
                             open_timeout=5, close_timeout=5, max_size=None) as ann:
                    ann.recv(timeout=5)
                    ann.send("w" * (70 * 1024))
                    try:
                        while True:
                            ann.recv(timeout=5)
                    except ConnectionClosed as closed:
                        return closed.rcvd.code if closed.rcvd is not None else None
                return None

            code = await asyncio.to_thread(talk)
            assert code == 1009
            await _closed(engine)
            pcapng.write(engine.capture.messages, engine.capture.connections, out)
            return _port(chat.address)
        finally:
            await engine.shutdown()

    port = run(main, 60)
    closes = tshark(out, port, "websocket.opcode == 8", "tcp.dstport",
                    "websocket.payload.close.status_code")
    # the CLOSE each way: the client's comes after its frame not kept whole
    assert len(closes) == 2 and all(line.endswith("|1009") for line in closes), closes
    assert sum(line.startswith(f"{port}|") for line in closes) == 1, closes


def test_a_connection_the_wire_reset_ends_with_rst(tmp_path: Path) -> None:
    out = tmp_path / "reset.pcapng"

    async def main() -> int:
        engine = Engine()
        try:
            info = await engine.add_server("http", port=0,
                                           options={"db": str(tmp_path / "notes.sqlite3")})
            engine.wire_board.set_faults(info.id, reset_after=60)
            request = b"GET / HTTP/1.1\r\nHost: lab.test\r\n\r\n"
            try:
                await asyncio.to_thread(exchange, _port(info.address), request, 1)
            except ConnectionResetError:
                pass
            await _closed(engine)
            assert any(m.injected and "reset" in m.summary for m in engine.capture.messages)
            pcapng.write(engine.capture.messages, engine.capture.connections, out)
            return _port(info.address)
        finally:
            await engine.shutdown()

    port = run(main, 60)
    assert tshark(out, port, "tcp.flags.reset == 1", "frame.number")
    assert tshark(out, port, "tcp.flags.fin == 1", "frame.number") == []
