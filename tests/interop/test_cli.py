"""cslab serve / relay as real processes, talked to by plain sockets and by nc."""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


class Cslab:
    """``python -m lab.cli ARGS`` as a subprocess whose stdout lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lab.cli", *args], cwd=ROOT, env=ENV, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 10.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line in {timeout} s: {self.stderr()}") from None

    def listening(self) -> tuple[str, int]:
        first = self.line()
        assert first.startswith("listening on "), first
        host, _, port = first.removeprefix("listening on ").rpartition(":")
        return host, int(port)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def terminate(self, timeout: float = 5.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def records(path: Path, count: int, timeout: float = 5.0) -> list[dict[str, object]]:
    """The first ``count`` JSON lines of ``path``, waiting for them to be written."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        lines = text[:text.rfind("\n") + 1].splitlines()  # whole lines: one may be on its way
        if len(lines) >= count or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)


def port_is_free(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    """Whether a server may listen on ``port`` again (as servers do, with SO_REUSEADDR:
    connections the lab closed may linger in TIME_WAIT)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def echo_server() -> Iterator[int]:
    """An echo server in this process: an outside program as far as cslab knows."""

    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(65536):
                self.request.sendall(data)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server.server_address[1]
        server.shutdown()


def talk(port: int, data: bytes) -> tuple[bytes, str]:
    """Send ``data``, half-close, read to EOF; return the answer and our address."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        me = f"127.0.0.1:{sock.getsockname()[1]}"
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer, me


def test_serve_tcp_echo_prints_and_captures_an_outside_client(tmp_path: Path) -> None:
    cap = tmp_path / "cap.jsonl"
    lab = Cslab("serve", "tcp-echo", "--port", "0", "--capture", str(cap))
    try:
        host, port = lab.listening()
        assert host == "127.0.0.1" and port != 0
        answer, me = talk(port, b"hello\n")
        assert answer == b"hello\n"
        ask, reply = lab.line(), lab.line()
        assert ask.startswith("#1 ") and reply.startswith("#2 ")
        assert f" c1 {me} → 127.0.0.1:{port} tcp-echo \"hello\\n\" (6 bytes)" in ask
        assert f" c1 127.0.0.1:{port} → {me} tcp-echo \"hello\\n\" (6 bytes)" in reply
        got = records(cap, 4)  # flushed while the server still runs
        assert lab.proc.poll() is None
        assert [r["type"] for r in got] == ["open", "message", "message", "close"]
        assert [r.get("sender") for r in got[1:3]] == ["client", "server"]
        assert {r["client"] for r in got} == {me}
        assert {r["server"] for r in got} == {f"127.0.0.1:{port}"}
        assert base64.b64decode(str(got[1]["raw"])) == b"hello\n"
        assert got[0]["parent"] is None
        assert lab.terminate() == 0
        assert port_is_free(port)
    finally:
        lab.kill()


def test_serve_udp_echo(tmp_path: Path) -> None:
    cap = tmp_path / "cap.jsonl"
    lab = Cslab("serve", "udp-echo", "--port", "0", "--capture", str(cap))
    try:
        _, port = lab.listening()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"datagram", ("127.0.0.1", port))
            data, source = sock.recvfrom(65536)
            me = f"127.0.0.1:{sock.getsockname()[1]}"
        assert data == b"datagram" and source == ("127.0.0.1", port)
        assert f"{me} → 127.0.0.1:{port} udp-echo \"datagram\" (8 bytes)" in lab.line()
        assert f"127.0.0.1:{port} → {me} udp-echo \"datagram\" (8 bytes)" in lab.line()
        assert lab.terminate() == 0
        got = records(cap, 4)
        assert [r["type"] for r in got] == ["open", "message", "message", "close"]
        assert got[0]["transport"] == "udp"
        assert port_is_free(port, socket.SOCK_DGRAM)
    finally:
        lab.kill()


def test_relay_between_two_outside_programs(tmp_path: Path, echo_server: int) -> None:
    cap = tmp_path / "relay.jsonl"
    lab = Cslab("relay", "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{echo_server}",
                "--capture", str(cap))
    try:
        _, port = lab.listening()
        payload = bytes(range(256)) * 40
        answer, me = talk(port, payload)
        assert answer == payload
        got = records(cap, 2)
        assert got[0]["type"] == "open" and got[0]["client"] == me
        assert got[0]["server"] == f"127.0.0.1:{port}"
        messages = [r for r in records(cap, 100, timeout=0.5) if r["type"] == "message"]
        assert {r["protocol"] for r in messages} == {"raw"}
        for sender in ("client", "server"):
            assert sum(int(str(r["size"])) for r in messages if r["sender"] == sender) == len(
                payload)
        assert "00 01 02 03" in lab.line()  # binary shown as hex
        assert lab.terminate() == 0
    finally:
        lab.kill()


def test_a_busy_port_exits_non_zero_naming_the_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "lab.cli", "serve", "tcp-echo", "--port", str(port)],
            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=30, check=False,
        )
    assert done.returncode != 0
    assert f"port {port}" in done.stderr
    assert "listening" not in done.stdout


def test_sigterm_with_a_client_connected_exits_zero_promptly_and_frees_the_port() -> None:
    lab = Cslab("serve", "tcp-echo", "--port", "0")
    try:
        _, port = lab.listening()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"hi")
            assert sock.recv(10) == b"hi"
            started = time.monotonic()
            assert lab.terminate(timeout=5) == 0
            assert time.monotonic() - started < 3
            assert sock.recv(10) == b""  # the server closed our connection on the way out
        assert port_is_free(port)
    finally:
        lab.kill()
    again = Cslab("serve", "tcp-echo", "--port", str(port))  # the same port serves again
    try:
        assert again.listening() == ("127.0.0.1", port)
        assert talk(port, b"back")[0] == b"back"
        assert again.terminate() == 0
    finally:
        again.kill()


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (netcat-openbsd) is not installed")
def test_real_netcat_is_captured_like_any_client(tmp_path: Path) -> None:
    cap = tmp_path / "nc.jsonl"
    lab = Cslab("serve", "tcp-echo", "--port", "0", "--capture", str(cap))
    try:
        _, port = lab.listening()
        done = subprocess.run(
            ["nc", "-N", "127.0.0.1", str(port)], input=b"hello from nc\n",
            capture_output=True, timeout=10, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"hello from nc\n"
        got = records(cap, 4)
        assert [r["type"] for r in got] == ["open", "message", "message", "close"]
        assert all(r["summary"] == '"hello from nc\\n" (14 bytes)' for r in got[1:3])
        assert lab.terminate() == 0
    finally:
        lab.kill()
