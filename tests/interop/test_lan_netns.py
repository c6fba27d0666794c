"""Classroom LAN mode against a real client on another "machine": a network
namespace and a veth pair the test makes itself (and always removes). The lab
shares a server on the host side of the veth; curl (or Python) in the namespace
reaches it, and the capture names the namespace's address. Traffic goes only to
the namespace made here. Skipped, with the reason, where namespaces cannot be made.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lab import lan
from lab.engine import Engine
from tests.lab.helpers import run


@dataclass
class Netns:
    name: str
    host_address: str  # the lab's side of the veth
    client_address: str  # the namespace's side

    def command(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


def _ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], capture_output=True, text=True, check=check, timeout=10)


def _free_subnet() -> int:
    used = _ip("-4", "-o", "addr").stdout
    for n in [os.getpid() % 200 + 20, *range(20, 250)]:
        if f" 10.200.{n}." not in used:
            return n
    pytest.skip("no free 10.200.N.0/24 subnet for the test namespace")


@pytest.fixture
def netns() -> Iterator[Netns]:
    if shutil.which("ip") is None:
        pytest.skip("the ip command (iproute2) is not installed")
    if os.geteuid() != 0:
        pytest.skip("making a network namespace needs root")
    pid = os.getpid()
    name, host_end, ns_end = f"cslab-t{pid}", f"cslh{pid}", f"csln{pid}"
    n = _free_subnet()
    made = _ip("netns", "add", name, check=False)
    if made.returncode != 0:
        pytest.skip(f"ip netns add failed: {made.stderr.strip()}")
    try:
        steps = [
            ("link", "add", host_end, "type", "veth", "peer", "name", ns_end),
            ("link", "set", ns_end, "netns", name),
            ("addr", "add", f"10.200.{n}.1/24", "dev", host_end),
            ("link", "set", host_end, "up"),
            ("netns", "exec", name, "ip", "addr", "add", f"10.200.{n}.2/24", "dev", ns_end),
            ("netns", "exec", name, "ip", "link", "set", ns_end, "up"),
            ("netns", "exec", name, "ip", "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step, check=False)
            if done.returncode != 0:
                pytest.skip(f"ip {' '.join(step)} failed: {done.stderr.strip()}")
        yield Netns(name, f"10.200.{n}.1", f"10.200.{n}.2")
    finally:
        _ip("netns", "del", name, check=False)
        _ip("link", "del", host_end, check=False)  # gone with the namespace, usually


async def _output(argv: list[str]) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_in_another_namespace_fetches_from_a_shared_http_server(netns: Netns) -> None:
    async def main() -> None:
        engine = Engine()
        info = await engine.add_server("http", port=0)
        port = int(info.address.rpartition(":")[2])
        assert netns.host_address in [face.address for face in lan.interfaces()]
        shared = await engine.share_server(info.id, netns.host_address)
        assert shared.address == f"{netns.host_address}:{port}"
        url = f"http://{netns.host_address}:{port}/"
        assert engine.share_addresses(info.id) == [url]
        status = await _output(netns.command("curl", "-s", "-o", "/dev/null",
                                             "-w", "%{http_code}", url))
        assert status == "200"
        clients = {m.client for m in engine.capture.messages}
        assert len(clients) == 1
        assert clients.pop().startswith(f"{netns.client_address}:")
        summaries = [m.summary for m in engine.capture.messages]
        assert summaries[0] == "GET /" and summaries[1].startswith("200")
        await engine.shutdown()

    run(main)


CAP_PROBE = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
first = socket.create_connection((host, port), 5)
first.sendall(b"hi")
print(first.recv(10))
second = socket.create_connection((host, port), 5)
second.settimeout(5)
try:
    print(second.recv(10))
except OSError as exc:
    print(type(exc).__name__)
"""


def test_a_connection_over_the_cap_from_the_namespace_is_refused_with_a_note(
        netns: Netns) -> None:
    async def main() -> None:
        engine = Engine()
        info = await engine.add_server("tcp-echo", port=0, start=False)
        await engine.share_server(info.id, netns.host_address, max_per_client=1)
        started = await engine.start_server(info.id)
        port = started.address.rpartition(":")[2]
        out = await _output(netns.command(sys.executable, "-c", CAP_PROBE,
                                          netns.host_address, port))
        first, second = out.split()
        assert first == "b'hi'" and second in {"b''", "ConnectionResetError"}
        note = (f"Wire refused {netns.client_address}: "
                "more than 1 connection from one address")
        injected = [m for m in engine.capture.messages if m.injected]
        assert [m.summary for m in injected] == [note]
        assert injected[0].client.startswith(f"{netns.client_address}:")
        await engine.shutdown()

    run(main)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_cslab_serve_on_the_veth_address_prints_the_share_address(netns: Netns) -> None:
    from tests.interop.test_cli import Cslab

    lab = Cslab("serve", "http", "--host", netns.host_address, "--port", "0",
                "--max-per-client", "1")
    try:
        host, port = lab.listening()
        assert host == netns.host_address
        url = f"http://{host}:{port}/"
        status = subprocess.run(netns.command("curl", "-s", "-o", "/dev/null", "-w",
                                              "%{http_code}", url),
                                capture_output=True, text=True, timeout=20).stdout
        assert status == "200"
        assert f" {netns.client_address}:" in lab.line()  # GET / from the namespace
        assert lab.terminate() == 0
        assert f"shared on the network: {url}" in lab.stderr()
    finally:
        lab.kill()
