"""cslab serve ws as a real process, talked to by websockets' own client (not the
lab's) and by a raw socket sending a malformed upgrade. curl cannot speak WebSocket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.interop.test_cli import Cslab, port_is_free, records


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Cslab, int, Path]]:
    cap = tmp_path / "chat.jsonl"
    lab = Cslab("serve", "ws", "--port", "0", "--capture", str(cap))
    try:
        host, port = lab.listening()
        assert host == "127.0.0.1"
        yield lab, port, cap
        assert lab.terminate() == 0
        assert port_is_free(port)
    finally:
        lab.kill()


def join(port: int, name: str) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{port}/?name={name}", proxy=None, compression=None,
                   open_timeout=5, close_timeout=2)


def expect(lab: Cslab, *needles: str) -> list[str]:
    """Printed lines until each needle was seen, in order."""
    seen: list[str] = []
    wanted = list(needles)
    while wanted:
        seen.append(lab.line(timeout=5))
        if wanted[0] in seen[-1]:
            wanted.pop(0)
    return seen


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_websockets_clients_chat_through_the_wire(served: tuple[Cslab, int, Path]) -> None:
    lab, port, cap = served
    with join(port, "ann") as ann, join(port, "ben") as ben:
        assert ann.recv(timeout=5) == "* here now: ann"
        assert ann.recv(timeout=5) == "* ann joined"
        assert ben.recv(timeout=5) == "* here now: ann, ben"
        assert ben.recv(timeout=5) == "* ben joined"
        assert ann.recv(timeout=5) == "* ben joined"
        ann.send("hello ben")
        assert ben.recv(timeout=5) == "ann: hello ben"  # pushed: ben asked for nothing
        assert ann.recv(timeout=5) == "ann: hello ben"
        ben.close(1000, "bye")
        assert ann.recv(timeout=5) == "* ben left"
    seen = expect(lab, "websocket GET /?name=ann", "websocket 101 Switching Protocols",
                  'websocket TEXT "hello ben" (9 bytes)', 'websocket TEXT "ann: hello ben"',
                  'websocket CLOSE 1000 (normal closure) "bye"')
    assert not any("[malformed]" in line for line in seen)
    got = [r for r in records(cap, 20) if r["type"] == "message"]
    said = next(r for r in got if r["summary"] == 'TEXT "hello ben" (9 bytes)')
    fields = said["fields"]
    assert isinstance(fields, dict)
    assert said["sender"] == "client" and fields["masked"] is True
    assert fields["payload text"] == "hello ben" and len(str(fields["masking key"])) == 8


def test_a_malformed_upgrade_gets_a_400_and_the_server_serves_on(
        served: tuple[Cslab, int, Path]) -> None:
    lab, port, _ = served
    no_key = (b"GET /?name=eve HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
    reply = raw_exchange(port, no_key)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"missing Sec-WebSocket-Key header" in reply
    expect(lab, "websocket GET /?name=eve", "websocket 400 Bad Request")
    assert raw_exchange(port, b"\x00\xffnot http at all\r\n\r\n") == b""
    assert "[malformed]" in expect(lab, "malformed request")[-1]
    with join(port, "cy") as cy:  # still serving
        assert cy.recv(timeout=5) == "* here now: cy"
