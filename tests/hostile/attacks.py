"""Hostile clients: each opens real sockets to 127.0.0.1 and reports what it sent.

A TCP attack returns one ``Sent`` per connection: the bytes handed over, whether the
Wire's kernel acknowledged them all (so the Wire could read them), and whether the
other side cut the connection first (then bytes after the cut never reached the
Wire, and are not counted as lost). A UDP attack returns one per source socket."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import struct
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.wire.base import UDP_YIELD
from tests.hostile.served import HOST

#: A plausible start of a request per target, for slowloris and resets.
OPENERS: dict[str, bytes] = {
    "http": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 64 + b"\r\n",
    "smtp": b"EHLO slow.example\r\nMAIL FROM:<slow@lab.test>\r\n",
    "pop3": b"USER bob\r\nPASS lab\r\nSTAT\r\n",
    "ftp": b"USER student\r\nPASS lab\r\nPWD\r\n",
    "ws": (b"GET /?name=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
    "dns-tcp": b"\x00\x40" + bytes(range(64)),
    "tcp-echo": b"slow and steady\n",
}
UDP_TARGETS = {"dns-udp", "udp-echo"}
#: One small, valid request per target, repeated by the pipelining attack.
REQUESTS: dict[str, bytes] = {
    "http": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "smtp": b"NOOP\r\n", "pop3": b"CAPA\r\n", "ftp": b"NOOP\r\n",
    "ws": b"\x81\x82\x00\x00\x00\x00hi",  # a masked text frame (mask 0), after the upgrade
    "dns-tcp": b"\x00\x1e" + bytes.fromhex("1234010000010000000000000377777703"
                                         "6c616204746573740000010001"),
    "tcp-echo": b"x" * 63 + b"\n",
}


@dataclass
class Sent:
    """What one hostile socket sent."""

    client: str  # "127.0.0.1:PORT", as the capture names the client
    sent: int = 0
    datagrams: int = 0
    acked: bool = False  # TCP: the Wire's kernel acknowledged every byte
    cut: bool = False  # TCP: the other side closed or reset before we were done


@dataclass(frozen=True)
class Scale:
    """How hard the battery pushes: the CI run is small, the full run bigger."""

    random_bytes: int = 64 * 1024
    long_line: int = 10 * 1024 * 1024
    slow_connections: int = 100  # under ``cap``: the normal client must get in beside them
    slow_seconds: float = 6.0
    half_open: int = 20
    half_open_seconds: float = 3.0
    flood: int = 200  # past ``cap``
    datagrams: int = 500
    pipeline: int = 256 * 1024  # bytes of small requests sent without reading a reply
    cap: int = 128  # the Wire's --max-total


During = Callable[[], None]


def _tcp(port: int) -> tuple[socket.socket, Sent]:
    sock = socket.create_connection((HOST, port), timeout=10)
    return sock, Sent(client=f"{HOST}:{sock.getsockname()[1]}")


def _unsent(sock: socket.socket) -> int:
    raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return int(struct.unpack("i", raw)[0])


def _wait_acked(sock: socket.socket, sent: Sent, most: float = 5.0) -> None:
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if _unsent(sock) == 0:
                sent.acked = True
                return
        time.sleep(0.01)


def _send(sock: socket.socket, sent: Sent, data: bytes) -> None:
    """Send ``data`` (a chunk at a time, counting what the kernel took)."""
    view = memoryview(data)
    try:
        while view:
            count = sock.send(view[:256 * 1024])
            sent.sent += count
            view = view[count:]
    except (ConnectionError, TimeoutError, OSError):
        sent.cut = True


def _drain(sock: socket.socket, sent: Sent, most: float = 5.0) -> bytes:
    """Read what the other side says until it closes (a reset counts as a cut)."""
    got = bytearray()
    sock.settimeout(most)
    try:
        while chunk := sock.recv(65536):
            if len(got) < 65536:
                got += chunk
    except (ConnectionError, OSError):
        sent.cut = True
    return bytes(got)


def _one_shot(port: int, payload: bytes) -> Sent:
    """Send ``payload``, say we are done (FIN), read the answer to the end."""
    sock, sent = _tcp(port)
    with sock:
        _send(sock, sent, payload)
        if not sent.cut:
            _wait_acked(sock, sent)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        _drain(sock, sent)
    return sent


def _upgraded(target: str) -> bytes:
    """What a WebSocket client sends before its frames (nothing for other targets)."""
    return OPENERS["ws"] + b"\r\n" if target == "ws" else b""


def random_bytes(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    """Random bytes from the start, and (WebSocket) after a good upgrade request."""
    rng = random.Random(f"{target}-random")
    return [_one_shot(port, rng.randbytes(scale.random_bytes)),
            _one_shot(port, _upgraded(target) + rng.randbytes(scale.random_bytes))]


def long_line(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    return [_one_shot(port, b"A" * scale.long_line + b"\r\n")]


def nul_bytes(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    opener = OPENERS[target]
    return [_one_shot(port, b"\x00" * 4096 + b"\r\n"),
            _one_shot(port, opener.replace(b" ", b"\x00", 1) + b"\x00\r\n\r\n")]


def invalid_utf8(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    bad = b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc"
    sent = [_one_shot(port, OPENERS[target].replace(b"\r\n", b" " + bad + b"\r\n") + b"\r\n")]
    if target == "ws":  # a text frame (masked with 0) whose text is not UTF-8
        sent.append(_one_shot(port, _upgraded(target) + b"\x81\x8d\x00\x00\x00\x00" + bad))
    return sent


def slowloris(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    """Many connections, each trickling a plausible request a byte a second; the
    normal client runs while they hang on, then they close."""
    opener = OPENERS[target]
    socks = [_tcp(port) for _ in range(scale.slow_connections)]
    ticks = max(1, int(scale.slow_seconds))
    for tick in range(ticks):
        for sock, sent in socks:
            if not sent.cut:
                _send(sock, sent, opener[tick % len(opener):tick % len(opener) + 1])
        if tick == ticks - 1:
            during()
        else:
            time.sleep(1.0)
    for sock, sent in socks:
        if not sent.cut:
            _wait_acked(sock, sent)
        sock.close()
    return [sent for _, sent in socks]


def reset_mid_message(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    """Half a request, then SO_LINGER 0: the Wire sees a reset, not a FIN."""
    results = []
    for payload in (OPENERS[target][: len(OPENERS[target]) // 2],
                    random.Random(target).randbytes(32 * 1024)):
        sock, sent = _tcp(port)
        _send(sock, sent, payload)
        _wait_acked(sock, sent)
        time.sleep(0.2)  # let the Wire read what arrived: a reset discards unread bytes
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        results.append(sent)
    return results


def half_open(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    """Some send a request and shut down writing but never read; some never send."""
    socks = [_tcp(port) for _ in range(scale.half_open)]
    for number, (sock, sent) in enumerate(socks):
        if number % 2 == 0:
            _send(sock, sent, OPENERS[target] + b"\r\n")
            _wait_acked(sock, sent)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        else:
            sent.acked = True
    time.sleep(scale.half_open_seconds)
    during()
    for sock, _ in socks:
        sock.close()
    return [sent for _, sent in socks]


def pipelined(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    """Small valid requests back to back, then FIN, reading nothing for a while (the
    replies back up through the Wire), then reading them all."""
    request = REQUESTS[target]
    sock, sent = _tcp(port)
    with sock:
        _send(sock, sent, _upgraded(target) + request * max(1, scale.pipeline // len(request)))
        if not sent.cut:
            _wait_acked(sock, sent, 30.0)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        time.sleep(scale.half_open_seconds)
        during()
        _drain(sock, sent, 10.0)
    return [sent]


def flood(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    """More connections at once than the Wire's cap, each with a request; held a
    moment, then closed. Those past the cap are refused by the Wire."""
    socks = []
    for _ in range(scale.flood):
        try:
            socks.append(_tcp(port))
        except OSError:
            break
    for sock, sent in socks:
        _send(sock, sent, OPENERS[target])
    for sock, sent in socks:
        if not sent.cut:
            _wait_acked(sock, sent, 1.0)
    time.sleep(0.5)
    for sock, sent in socks:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            if sock.recv(1) == b"":
                sent.cut = True
        sock.close()
    return [sent for _, sent in socks]


# ---- UDP -------------------------------------------------------------------------------

def _datagrams(port: int, payloads: list[bytes], sockets: int = 1) -> list[Sent]:
    """Send ``payloads`` round-robin from ``sockets`` sockets, all open at once (a
    closed one's port could come back for the next, and two would look like one)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(sockets)]
    results = []
    try:
        for sock in socks:
            sock.bind((HOST, 0))
            results.append(Sent(client=f"{HOST}:{sock.getsockname()[1]}", acked=True))
        for number, payload in enumerate(payloads):
            socks[number % sockets].sendto(payload, (HOST, port))
            results[number % sockets].sent += len(payload)
            results[number % sockets].datagrams += 1
            time.sleep(0.002)  # paced: the battery tests the Wire, not the kernel's buffer
    finally:
        for sock in socks:
            sock.close()
    return results


def udp_random(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    rng = random.Random(f"{target}-udp")
    return _datagrams(port, [rng.randbytes(rng.randrange(1, 1400))
                             for _ in range(scale.datagrams)])


def udp_long(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    return _datagrams(port, [b"A" * 65507, b"B" * 65507])


def udp_nul(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    return _datagrams(port, [b"\x00" * 512, b"\x00" * 12, b"\x00"])


def udp_utf8(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    return _datagrams(port, [b"\xff\xfe\xc3\x28" * 50, os.urandom(2) + b"\x01\x00" + b"\xa0" * 60])


def udp_flood(target: str, port: int, scale: Scale, during: During) -> list[Sent]:
    """A datagram from each of more source ports than the Wire's cap; then the flood
    stops, and after UDP_YIELD seconds its quiet sessions make room for others."""
    sent = _datagrams(port, [b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"]
                      * scale.flood, sockets=scale.flood)
    time.sleep(UDP_YIELD + 0.1)
    return sent


Attack = Callable[[str, int, Scale, During], list[Sent]]
TCP_ATTACKS: dict[str, Attack] = {
    "random bytes": random_bytes, "10 MB line": long_line, "NUL bytes": nul_bytes,
    "invalid UTF-8": invalid_utf8, "slowloris": slowloris, "reset mid-message": reset_mid_message,
    "half-open": half_open, "pipelined, unread": pipelined, "flood past the cap": flood,
}
UDP_ATTACKS: dict[str, Attack] = {
    "random bytes": udp_random, "10 MB line": udp_long, "NUL bytes": udp_nul,
    "invalid UTF-8": udp_utf8, "flood past the cap": udp_flood,
}


def attacks_for(target: str) -> dict[str, Attack]:
    return UDP_ATTACKS if target in UDP_TARGETS else TCP_ATTACKS
