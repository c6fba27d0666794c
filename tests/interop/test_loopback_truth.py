"""The capture is the truth: for a conversation of each kind with a real client, per
connection and per direction, the bytes in the Engine's capture (a Message kept short
counts as a gap of its missing bytes) are the bytes a packet capture of the loopback
(tcpdump -i lo) saw between the client and the Wire."""

from __future__ import annotations

import asyncio
import poplib
import shutil
import smtplib
import socket
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import pytest
from websockets.sync.client import connect

from lab.engine import Engine
from lab.model import Connection, Message, Transport
from tests.interop.loopback import (
    Flow,
    Loopback,
    capture_flows,
    differences,
    ftp_data_ports,
    need_tools,
    read_truth,
    touching,
)
from tests.lab.helpers import run

MAIL = (b"Subject: loopback\r\nFrom: zed@example.org\r\nTo: ann@lab.test\r\n\r\n"
        b"A first line.\r\n.A line that starts with a dot\r\n" + b"x" * 70 + b"\r\nThe end.\r\n")
FILE = bytes(range(256)) * 8  # 2 KiB, every byte value


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@dataclass
class Recorded:
    truth: Path
    port: int
    node: str
    messages: list[Message]
    connections: list[Connection]


def record(tmp_path: Path, kind: str, talk: Callable[[str], None], *,
           options: dict[str, str] | None = None, bpf: str = "",
           before: Callable[[Engine], Awaitable[None]] | None = None) -> Recorded:
    """Run ``talk(address)`` (a real client, in a thread) against a lab server of
    ``kind`` while tcpdump records lo (``bpf``, default: the server's port)."""
    need_tools()
    pcap = tmp_path / f"{kind}.pcap"

    async def main() -> Recorded:
        engine = Engine()
        try:
            node = await engine.add_server(kind, port=0, options=options)
            if before is not None:
                await before(engine)
            with Loopback(pcap, bpf or f"port {_port(node.address)}"):
                await asyncio.to_thread(talk, node.address)
                await settled(engine, node.id)
            return Recorded(pcap, _port(node.address), node.id, list(engine.capture.messages),
                            list(engine.capture.connections.values()))
        finally:
            await engine.shutdown()

    return run(main, timeout=90)


async def settled(engine: Engine, node: str, timeout: float = 10.0) -> None:
    """Wait until every TCP connection of ``node`` has closed (both ways at the Wire), so
    the capture has all of it; go on after ``timeout`` (the comparison then says what)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        open_ = [c for c in engine.capture.connections.values() if c.node == node
                 and c.transport is Transport.TCP and c.closed is None]
        if not open_:
            return
        await asyncio.sleep(0.02)


def check(done: Recorded, transport: str = "tcp", extra_ports: bool = False,
          connections: int = 0) -> None:
    """The capture equals the loopback, connection by connection, direction by direction."""
    flows = read_truth(done.truth)
    truth = touching(flows, transport, [done.port])
    assert truth, f"tcpdump saw no {transport} traffic on port {done.port}"
    if extra_ports:  # FTP: the data connections its control connections named
        named = set().union(*(ftp_data_ports(flow) for flow in truth.values()))
        truth = touching(flows, transport, {done.port, *named})
    # FTP: at least the control connection and one per transfer (the data ones were found)
    assert len(truth) >= connections, f"the loopback shows only {sorted(map(sorted, truth))}"
    captured = capture_flows(done.messages, done.connections, done.node)
    wrong = differences(truth, captured)
    assert not wrong, "capture ≠ loopback:\n" + "\n".join(wrong)


def curl(*args: str) -> bytes:
    out = subprocess.run([_tool("curl"), "-sS", "--max-time", "15", *args],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---- one conversation of each kind ----------------------------------------------------------


def test_http_curl_two_requests_keep_alive(tmp_path: Path) -> None:
    def talk(address: str) -> None:
        curl("-o", "/dev/null", "-o", "/dev/null", f"http://{address}/",
             f"http://{address}/missing")

    check(record(tmp_path, "http", talk, options={"db": str(tmp_path / "notes.sqlite3")}))


def test_smtp_smtplib(tmp_path: Path) -> None:
    def talk(address: str) -> None:
        with smtplib.SMTP("127.0.0.1", _port(address), timeout=10) as mail:
            mail.sendmail("zed@example.org", ["ann@lab.test"], MAIL)

    check(record(tmp_path, "smtp", talk, options={"root": str(tmp_path / "mail")}))


def test_pop3_poplib(tmp_path: Path) -> None:
    root = str(tmp_path / "mail")

    async def deliver(engine: Engine) -> None:  # one mail in ann's box, before recording
        smtp = await engine.add_server("smtp", port=0, options={"root": root})

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", _port(smtp.address), timeout=10) as mail:
                mail.sendmail("zed@example.org", ["ann@lab.test"], MAIL)

        await asyncio.to_thread(send)

    def talk(address: str) -> None:
        box = poplib.POP3("127.0.0.1", _port(address), timeout=10)
        box.user("ann")
        box.pass_("lab")
        assert box.stat()[0] == 1
        box.list()
        assert b"The end." in b"\r\n".join(box.retr(1)[1])
        box.quit()

    check(record(tmp_path, "pop3", talk, options={"root": root}, before=deliver))


def test_ftp_passive_curl_list_and_retr(tmp_path: Path) -> None:
    served = tmp_path / "ftp"
    served.mkdir()
    (served / "a.bin").write_bytes(FILE)

    got: list[bytes] = []

    def talk(address: str) -> None:
        got.append(curl("--ftp-pasv", f"ftp://{address}/", f"ftp://{address}/a.bin"))

    # the data ports are not known before: record all TCP on lo, keep the run's on reading
    check(record(tmp_path, "ftp", talk, options={"root": str(served)}, bpf="tcp"),
          extra_ports=True, connections=3)
    assert got[0].endswith(FILE), "curl did not get a.bin whole"
    assert b"a.bin" in got[0][:-len(FILE)], f"curl's LIST showed {got[0][:-len(FILE)]!r}"


def test_websocket_websockets(tmp_path: Path) -> None:
    def talk(address: str) -> None:
        with connect(f"ws://{address}/?name=ann", proxy=None, compression=None,
                     open_timeout=5, close_timeout=5) as ann:
            assert ann.recv(timeout=5) == "* here now: ann"
            ann.send("hello " * 50)
            while not str(ann.recv(timeout=5)).startswith("ann: hello"):
                pass

    check(record(tmp_path, "ws", talk))


def test_dns_udp(tmp_path: Path) -> None:
    def talk(address: str) -> None:
        host, port = "127.0.0.1", _port(address)
        if shutil.which("dig"):
            for name in ("www.lab.test", "nothing.lab.test"):
                out = subprocess.run(["dig", f"@{host}", "-p", str(port), "+tries=1", "+time=5",
                                      name, "A"], capture_output=True, text=True, timeout=20)
                assert out.returncode == 0, out.stderr
            return
        for name in ("www.lab.test", "nothing.lab.test"):
            dns.query.udp(dns.message.make_query(name, "A"), host, port=port, timeout=5)

    check(record(tmp_path, "dns", talk), transport="udp")


def test_tcp_echo_nc(tmp_path: Path) -> None:
    text = b"".join(b"line %d of the echo\n" % n for n in range(100))

    def talk(address: str) -> None:
        out = subprocess.run([_tool("nc"), "-N", "-w", "10", "127.0.0.1", str(_port(address))],
                             input=text, capture_output=True, timeout=30)
        assert out.stdout == text, out.stderr

    check(record(tmp_path, "tcp-echo", talk))


def test_udp_echo_socket(tmp_path: Path) -> None:
    def talk(address: str) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            for data in (b"one", b"x" * 1200, b"", b"last"):  # b"": a zero-length datagram
                sock.sendto(data, ("127.0.0.1", _port(address)))
                try:
                    sock.recvfrom(65535)
                except TimeoutError:  # the comparison says what the Wire did with it
                    pass

    check(record(tmp_path, "udp-echo", talk), transport="udp")


def test_ftp_active_curl_list_and_retr(tmp_path: Path) -> None:
    served = tmp_path / "ftp"
    served.mkdir()
    (served / "a.bin").write_bytes(FILE)

    got: list[bytes] = []

    def talk(address: str) -> None:
        got.append(curl("--ftp-port", "-", f"ftp://{address}/", f"ftp://{address}/a.bin"))

    check(record(tmp_path, "ftp", talk, options={"root": str(served)}, bpf="tcp"),
          extra_ports=True, connections=3)
    assert got[0].endswith(FILE), "curl did not get a.bin whole"
    assert b"a.bin" in got[0][:-len(FILE)], f"curl's LIST showed {got[0][:-len(FILE)]!r}"


# ---- the helpers themselves --------------------------------------------------------------


def test_ftp_data_ports_reads_pasv_epsv_port_and_eprt() -> None:
    flow = Flow("tcp", {("a", "b"): [(b"PORT 127,0,0,1,4,1\r\nEPRT |1|127.0.0.1|2000|\r\n", 0)],
                        ("b", "a"): [(b"227 Entering Passive Mode (127,0,0,1,195,80).\r\n"
                                      b"229 Entering Extended Passive Mode (|||40001|)\r\n", 0)]})
    assert ftp_data_ports(flow) == {1025, 2000, 50000, 40001}


def test_differences_count_a_gap_and_name_what_differs() -> None:
    a, b = "127.0.0.1:1000", "127.0.0.1:2000"
    truth = {frozenset((a, b)): Flow("tcp", {(a, b): [(b"GET / HTTP/1.1\r\n\r\n", 18)],
                                            (b, a): [(b"0123456789" * 10, 100)]})}

    def captured(*pieces: tuple[bytes, int]) -> dict[frozenset[str], Flow]:
        return {frozenset((a, b)): Flow("tcp", {(a, b): [(b"GET / HTTP/1.1\r\n\r\n", 18)],
                                               (b, a): list(pieces)})}

    assert differences(truth, captured((b"0123", 50), (b"0123456789", 50))) == []
    assert differences(truth, captured((b"0123", 50), (b"0123456789", 40))) == [
        f"{a} ↔ {b} {b}→{a}: loopback 100 B, capture 90 B (76 B of it gaps)"]
    wrong = differences(truth, captured((b"0123", 50), (b"9", 50)))
    assert wrong and "bytes differ at offset 50" in wrong[0]
    assert differences(truth, {}) == [
        f"{a} ↔ {b}: on the loopback ({{'{a}→{b}': 18, '{b}→{a}': 100}} B) "
        "but not in the capture"]
    udp = {frozenset((a, b)): Flow("udp", {(a, b): [(b"one", 3), (b"", 0)]})}
    assert differences(udp, {frozenset((a, b)): Flow("udp", {(a, b): [(b"one", 3)]})})
