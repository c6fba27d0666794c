"""Classroom LAN mode against a real client on another "machine": a network
namespace and a veth pair the test makes itself (and always removes). The lab
shares a server on the host side of the veth; curl (or Python) in the namespace
reaches it, and the capture names the namespace's address. Traffic goes only to
the namespace made here. Skipped, with the reason, where namespaces cannot be made.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from lab import lan
from lab.engine import Engine
from tests.interop.netns import Netns, output
from tests.lab.helpers import run


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
        subnet = netns.host_address.rpartition(".")[0]
        assert lan.audience(netns.host_address) == f"machines on {subnet}.0/24"
        status = await output(netns.command("curl", "-s", "-o", "/dev/null",
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
        out = await output(netns.command(sys.executable, "-c", CAP_PROBE,
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


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_server_shared_on_all_interfaces_captures_the_address_each_client_reached(
        netns: Netns) -> None:
    async def main() -> None:
        engine = Engine()
        info = await engine.add_server("http", port=0)
        port = int(info.address.rpartition(":")[2])
        await engine.share_server(info.id, lan.ALL_INTERFACES)
        await output(netns.command("curl", "-s", "-o", "/dev/null",
                                   f"http://{netns.host_address}:{port}/"))
        await output(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"])
        servers = {m.client.rpartition(":")[0]: m.server for m in engine.capture.messages}
        # the address each one connected to, never 0.0.0.0
        assert servers == {netns.client_address: f"{netns.host_address}:{port}",
                           "127.0.0.1": f"127.0.0.1:{port}"}
        await engine.shutdown()

    run(main)
