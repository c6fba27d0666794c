"""The loopback truth: tcpdump records what the kernel carried on ``lo``, tshark reads
it back, and both that and the Engine's capture become the same shape, per connection
and direction, so a test can say where they differ.

A flow is keyed by its two ends (``"127.0.0.1:port"`` strings, unordered) and holds,
per direction (``(src, dst)``), what crossed: for TCP one byte stream, for UDP the list
of datagrams. On the capture side each Message is a *piece* ``(raw, size)``: a raw
shorter than its size is the kept prefix followed by a gap of ``size - len(raw)`` bytes.
"""

from __future__ import annotations

import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pytest

from lab.model import Connection, Message, Sender, Transport

Pair = frozenset[str]           # the two ends of a connection, "ip:port" each
Direction = tuple[str, str]     # (from, to)
Piece = tuple[bytes, int]       # (raw bytes kept, size that crossed)


@dataclass
class Flow:
    """One connection (or UDP conversation): what crossed each way."""

    transport: str                                            # "tcp" | "udp"
    pieces: dict[Direction, list[Piece]] = field(default_factory=dict)

    def add(self, src: str, dst: str, raw: bytes, size: int) -> None:
        self.pieces.setdefault((src, dst), []).append((raw, size))


def need_tools() -> None:
    """Skip the calling test when the truth cannot be recorded here."""
    for tool, package in (("tcpdump", "tcpdump"), ("tshark", "tshark")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install {package})")


# ---- recording the truth ------------------------------------------------------------------


class Loopback:
    """``tcpdump -i lo -w FILE`` for the length of a ``with`` block.

    Entering waits until tcpdump says it is listening (skips the test if it cannot
    capture: not root, no ``lo``). Leaving sends a marker datagram and waits until
    it is in the file, so every packet before it is too, then stops tcpdump with
    SIGINT and checks the kernel dropped nothing."""

    def __init__(self, path: Path, bpf: str) -> None:
        self.path = path
        self.marker = f"cslab-loopback-marker-{uuid.uuid4().hex}".encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            self.marker_port = int(sock.getsockname()[1])  # closed again: nobody listens
        self.bpf = f"({bpf}) or (udp and port {self.marker_port})"
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []

    def __enter__(self) -> Loopback:
        need_tools()
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-B", "16384", "-Z", "root",
             "-w", str(self.path), self.bpf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + 15
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is not None and "listening on lo" in line:
                return self
            if line is None:  # tcpdump ended, or said nothing in time
                self._kill()
                pytest.skip("tcpdump cannot capture on lo here: "
                            + (" ".join(self.stderr).strip() or "it never said it listens"))

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))
            self.lines.put(self.stderr[-1])
        self.lines.put(None)

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None:
            self._kill()
            return
        self.stop()

    def stop(self) -> None:
        """Flush (marker), stop tcpdump (SIGINT, wait), check nothing was dropped."""
        assert self.proc is not None
        try:
            self._wait_for_marker()
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(15)
        finally:
            self._kill()
        deadline = time.monotonic() + 5
        while not any("dropped by kernel" in line for line in self.stderr):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for line in self.stderr:
            dropped = re.match(r"(\d+) packets? dropped by kernel", line.strip())
            assert dropped is None or dropped.group(1) == "0", (
                f"tcpdump lost packets, the truth is incomplete: {self.stderr}")

    def _wait_for_marker(self) -> None:
        deadline = time.monotonic() + 15
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while True:
                sock.sendto(self.marker, ("127.0.0.1", self.marker_port))
                sent = time.monotonic()
                while time.monotonic() - sent < 0.5:
                    if self.path.exists() and self.marker in self.path.read_bytes():
                        return
                    time.sleep(0.02)
                assert time.monotonic() < deadline, (
                    f"tcpdump never wrote the marker datagram: {self.stderr}")


# ---- reading the truth ------------------------------------------------------------------

FIELDS = ("ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack",
          "tcp.seq_raw", "tcp.len", "tcp.payload", "udp.srcport", "udp.dstport", "udp.length",
          "udp.payload")


@dataclass
class _Half:
    """One direction of a TCP connection as packets showed it."""

    isn: int | None = None
    segments: list[tuple[int, bytes]] = field(default_factory=list)

    def stream(self) -> bytes:
        """The bytes in sequence order (retransmissions overlap harmlessly)."""
        if not self.segments:
            return b""
        base = self.isn + 1 if self.isn is not None else min(s for s, _ in self.segments)
        out = bytearray()
        filled = 0
        for seq, data in sorted(self.segments, key=lambda s: (s[0] - base) % 2**32):
            at = (seq - base) % 2**32
            assert at <= filled, f"a hole in the recorded stream at byte {filled}"
            out[at:at + len(data)] = data
            filled = max(filled, at + len(data))
        return bytes(out)


def read_truth(path: Path) -> dict[Pair, Flow]:
    """Every TCP connection and UDP conversation in a pcap, per direction."""
    done = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "separator=\t",
         "-E", "occurrence=f", *[arg for name in FIELDS for arg in ("-e", name)]],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    halves: dict[Direction, _Half] = {}
    udp: dict[Pair, Flow] = {}
    for line in done.stdout.splitlines():
        cols = dict(zip(FIELDS, line.split("\t"), strict=False))
        if cols.get("tcp.srcport"):
            src = f"{cols['ip.src']}:{cols['tcp.srcport']}"
            dst = f"{cols['ip.dst']}:{cols['tcp.dstport']}"
            half = halves.setdefault((src, dst), _Half())
            seq = int(cols["tcp.seq_raw"])
            if _flag(cols["tcp.flags.syn"]):
                half.isn = seq
            if int(cols.get("tcp.len") or 0):
                half.segments.append((seq, bytes.fromhex(cols.get("tcp.payload", ""))))
        elif cols.get("udp.srcport"):
            src = f"{cols['ip.src']}:{cols['udp.srcport']}"
            dst = f"{cols['ip.dst']}:{cols['udp.dstport']}"
            data = bytes.fromhex(cols.get("udp.payload", ""))
            assert len(data) == int(cols["udp.length"]) - 8, line
            udp.setdefault(frozenset((src, dst)), Flow("udp")).add(src, dst, data, len(data))
    flows: dict[Pair, Flow] = dict(udp)
    for (src, dst), half in halves.items():
        flow = flows.setdefault(frozenset((src, dst)), Flow("tcp"))
        data = half.stream()
        flow.pieces[(src, dst)] = [(data, len(data))]
    return flows


def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true")


def touching(flows: dict[Pair, Flow], transport: str, ports: Iterable[int]) -> dict[Pair, Flow]:
    """The flows of ``transport`` that have an end on one of ``ports``."""
    wanted = {str(p) for p in ports}
    return {pair: flow for pair, flow in flows.items() if flow.transport == transport
            and any(end.rpartition(":")[2] in wanted for end in pair)}


_PASV = re.compile(rb"^227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", re.M)
_EPSV = re.compile(rb"^229 .*?\(\|\|\|(\d+)\|\)", re.M)
_PORT = re.compile(rb"^PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", re.M | re.I)
_EPRT = re.compile(rb"^EPRT \|\d\|[^|]+\|(\d+)\|", re.M | re.I)


def ftp_data_ports(control: Flow) -> set[int]:
    """The data ports an FTP control connection named, as its client saw them."""
    ports: set[int] = set()
    for pieces in control.pieces.values():
        text = b"".join(raw for raw, _ in pieces)
        for match in (*_PASV.finditer(text), *_PORT.finditer(text)):
            ports.add(int(match.group(5)) * 256 + int(match.group(6)))
        for match in (*_EPSV.finditer(text), *_EPRT.finditer(text)):
            ports.add(int(match.group(1)))
    return ports


# ---- the Engine's capture in the same shape ------------------------------------------------


def capture_flows(messages: Iterable[Message], connections: Iterable[Connection],
                  node: str) -> dict[Pair, Flow]:
    """The Messages of ``node``'s connections, per connection and direction, as the real
    client's side of the Wire carried them. The lab's own notes (injected Messages) carried
    nothing, but for the FTP layer's rewrite of a line the server sent (a 227/229, the
    reply to a PORT/EPRT: fields ``wire`` and ``line``), which is the line the client got
    instead of the server's one next to it. (A rewritten PORT/EPRT went to the server;
    the client's side carried the client's own line.)"""
    conns = {c.id: c for c in connections if c.node == node}
    kept: dict[str, list[Message]] = {cid: [] for cid in conns}
    for message in messages:
        mine = kept.get(message.connection)
        if mine is not None and (not message.injected or _is_reply_rewrite(message)):
            mine.append(message)
    flows: dict[Pair, Flow] = {}
    for cid, conn in conns.items():
        transport = "udp" if conn.transport is Transport.UDP else "tcp"
        flow = flows.setdefault(frozenset((conn.client, conn.server)), Flow(transport))
        for message in _as_the_client_got_it(kept[cid]):
            ends = (conn.client, conn.server)
            src, dst = ends if message.sender is Sender.CLIENT else ends[::-1]
            flow.add(src, dst, message.raw, message.size)
    return flows


def _is_reply_rewrite(message: Message) -> bool:
    keys = {key for key, _ in message.fields}
    return (message.injected and message.sender is Sender.SERVER and {"wire", "line"} <= keys
            and len(message.raw) >= 4)


def _as_the_client_got_it(mine: list[Message]) -> list[Message]:
    """Each rewrite in place of the server line it rewrote: the server's line just before
    or just after it (the Wire may capture either first) with the same reply code; the
    closer in bytes when both could be."""
    out = list(mine)
    replaced: set[int] = set()
    for at, note in enumerate(mine):
        if not note.injected:
            continue
        around = (_next_server_line(mine, at, -1), _next_server_line(mine, at, 1))
        fits = [n for n in around if n is not None and n not in replaced
                and mine[n].raw[:4] == note.raw[:4]]
        if fits:
            best = max(fits, key=lambda n: _common(mine[n].raw, note.raw))
            out[best] = note
            replaced.add(best)
    return [m for n, m in enumerate(out) if n in replaced or not m.injected]


def _next_server_line(mine: list[Message], at: int, step: int) -> int | None:
    at += step
    while 0 <= at < len(mine):
        if mine[at].sender is Sender.SERVER and not mine[at].injected:
            return at
        at += step
    return None


def _common(a: bytes, b: bytes) -> int:
    return next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))


# ---- comparing ------------------------------------------------------------------------


def differences(truth: dict[Pair, Flow], captured: dict[Pair, Flow]) -> list[str]:
    """What the capture says that the loopback did not see, one line each ([] if equal)."""
    out: list[str] = []
    for pair in sorted(truth.keys() | captured.keys(), key=sorted):
        name = " ↔ ".join(sorted(pair))
        if pair not in captured:
            sizes = {f"{s}→{d}": sum(n for _, n in p) for (s, d), p in truth[pair].pieces.items()}
            out.append(f"{name}: on the loopback ({sizes} B) but not in the capture")
            continue
        if pair not in truth:
            out.append(f"{name}: in the capture but not on the loopback")
            continue
        seen, kept = truth[pair], captured[pair]
        for direction in sorted(seen.pieces.keys() | kept.pieces.keys()):
            where = f"{name} {direction[0]}→{direction[1]}"
            real, got = seen.pieces.get(direction, []), kept.pieces.get(direction, [])
            wrong = (_compare_datagrams if seen.transport == "udp" else _compare_stream)(real, got)
            if wrong:
                out.append(f"{where}: {wrong}")
    return out


def _compare_stream(real: list[Piece], got: list[Piece]) -> str:
    data = b"".join(raw for raw, _ in real)
    total = sum(size for _, size in got)
    gaps = sum(size - len(raw) for raw, size in got)
    at = 0
    for raw, size in got:
        if data[at:at + len(raw)] != raw:
            off = at + next((i for i, (a, b) in enumerate(zip(data[at:], raw, strict=False))
                             if a != b), min(len(raw), len(data) - at))
            return (f"bytes differ at offset {off}: loopback {data[off:off + 24]!r}, "
                    f"capture {raw[off - at:off - at + 24]!r} "
                    f"(loopback {len(data)} B, capture {total} B, {gaps} B gaps)")
        at += size
    if total != len(data):
        return f"loopback {len(data)} B, capture {total} B ({gaps} B of it gaps)"
    return ""


def _compare_datagrams(real: list[Piece], got: list[Piece]) -> str:
    shown = [(raw[:16], size) for raw, size in got]
    if len(real) != len(got):
        return (f"loopback {len(real)} datagrams {[(r[:16], len(r)) for r, _ in real]!r}, "
                f"capture {len(got)} {shown!r}")
    for n, ((data, _), (raw, size)) in enumerate(zip(real, got, strict=True)):
        if size != len(data) or data[:len(raw)] != raw:
            return f"datagram {n}: loopback {data[:32]!r} ({len(data)} B), capture {shown[n]!r}"
    return ""
