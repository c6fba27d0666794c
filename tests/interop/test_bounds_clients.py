"""Bounds of `cslab serve ws` and `cslab serve dns` as real processes (issue 17),
against outside clients: websockets' own client, dnspython over TCP, raw sockets.
Loads are bounded in count and time; memory is the server process's RSS."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.interop.test_cli import Cslab
from tests.interop.test_dns_cli import free_port
from tests.lab.test_ws_chat_limits import upgrade

PING_FLOOD = "ping flood: more than 50 pings a second"
TOO_SLOW = " left (too slow: not reading)"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[tuple[Cslab, int, Path]]:
    cap = tmp_path / "chat.jsonl"
    lab = Cslab("serve", "ws", "--port", "0", "-q", "--capture", str(cap))
    try:
        yield lab, lab.listening()[1], cap
        assert lab.terminate(timeout=15) == 0
    finally:
        lab.kill()


def join(port: int, name: str, **kwargs: Any) -> ClientConnection:
    conn: ClientConnection = connect(
        f"ws://127.0.0.1:{port}/?name={name}", proxy=None, compression=None,
        open_timeout=10, close_timeout=5, max_size=None, **kwargs)
    return conn


def lines_until(member: ClientConnection, wanted: str, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"never received {wanted!r}; last: {seen[-3:]}")
        seen.append(str(member.recv(timeout=left)))
    return seen


def captured(cap: Path, summary_start: str) -> list[object]:
    """Who sent each captured message whose summary starts with ``summary_start``."""
    text = cap.read_text(encoding="utf-8")  # whole lines: the last may be on its way
    records = [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines()]
    return [r.get("sender") for r in records
            if str(r.get("summary", "")).startswith(summary_start)]


def test_a_ping_flood_gets_1008_and_its_reason(chat: tuple[Cslab, int, Path]) -> None:
    lab, port, cap = chat
    with join(port, "bob") as bob, join(port, "pinger") as pinger:
        try:
            for _ in range(3_000):
                pinger.ping()
            lines_until(pinger, "never said", timeout=15)  # the room's lines, then the close
        except ConnectionClosed:
            pass
        assert pinger.close_code == 1008 and pinger.close_reason == PING_FLOOD
        lines_until(bob, "* pinger left (ping flood)")
    assert lab.terminate(timeout=15) == 0  # the capture is all written
    closes = captured(cap, 'CLOSE 1008 (policy violation) "ping flood')
    assert "server" in closes


def test_members_that_never_read_are_closed_and_the_server_stays_small(
        chat: tuple[Cslab, int, Path]) -> None:
    lab, port, _ = chat
    before = rss_mib(lab.proc.pid)
    sloths = []
    for i in range(10):  # each sends its upgrade and then reads nothing at all
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(upgrade(f"sloth{i}"))
        sloths.append(sock)
    try:
        with join(port, "bob") as bob, join(port, "loud") as loud:
            line = "z" * 60_000
            seen: list[str] = []

            def read_the_notices() -> None:  # bob reads everything, as a person would
                deadline = time.monotonic() + 90
                while sum(s.endswith(TOO_SLOW) for s in seen) < 10:
                    seen.append(str(bob.recv(timeout=max(0.1, deadline - time.monotonic()))))

            reader = threading.Thread(target=read_the_notices)
            reader.start()
            sent = 0
            while reader.is_alive() and sent < 600:
                loud.send(line)
                sent += 1
            reader.join(timeout=90)
            left = {s for s in seen if s.endswith(TOO_SLOW)}
            assert left == {f"* sloth{i} left (too slow: not reading)" for i in range(10)}
            grew = rss_mib(lab.proc.pid) - before
            assert grew < 300, f"+{grew:.0f} MiB"
    finally:
        for sloth in sloths:
            sloth.close()


def pipelined(count: int) -> bytes:
    query = dns.message.make_query("www.lab.test", "A").to_wire()
    return (struct.pack("!H", len(query)) + query) * count


def test_a_normal_dns_client_is_answered_while_greedy_ones_pipeline() -> None:
    port = free_port()
    lab = Cslab("serve", "dns", "--port", str(port), "-q")
    hogs: list[socket.socket] = []
    try:
        assert lab.listening() == ("127.0.0.1", port)
        before = rss_mib(lab.proc.pid)
        blob = pipelined(500)
        for _ in range(20):  # 20 clients × 500 queries, never reading an answer
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            try:
                sock.send(blob)
            except BlockingIOError:
                pass
            hogs.append(sock)
        start = time.monotonic()
        for _ in range(10):
            answer = dns.query.tcp(dns.message.make_query("www.lab.test", "A"),
                                   "127.0.0.1", port=port, timeout=15)
            assert answer.rcode() == dns.rcode.NOERROR
            assert [r.to_text() for r in answer.answer[0]] == ["127.0.0.1"]
        took = time.monotonic() - start
        assert took < 15, f"10 answers took {took:.1f} s"  # before: 7 answers in 20 s
        grew = rss_mib(lab.proc.pid) - before
        assert grew < 150, f"+{grew:.0f} MiB"
        assert lab.terminate(timeout=15) == 0
    finally:
        for sock in hogs:
            sock.close()
        lab.kill()
