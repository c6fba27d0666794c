"""``cslab serve dns`` as a real process, asked by dnspython's resolver like any outside
program would ask a name server."""

from __future__ import annotations

import socket
from pathlib import Path

import dns.resolver

from tests.interop.test_cli import Cslab, port_is_free, records


def free_port() -> int:
    """A port free for both UDP and TCP right now (the DNS server takes both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port_is_free(port) and port_is_free(port, socket.SOCK_DGRAM):
            return port
    raise AssertionError("no port free for both UDP and TCP")


def test_serve_dns_answers_dnspythons_resolver(tmp_path: Path) -> None:
    cap = tmp_path / "dns.jsonl"
    port = free_port()
    lab = Cslab("serve", "dns", "--port", str(port), "--capture", str(cap))
    try:
        assert lab.listening() == ("127.0.0.1", port)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = port
        resolver.lifetime = 5.0
        assert [a.to_text() for a in resolver.resolve("www.lab.test", "A")] == ["127.0.0.1"]
        ask, answer = lab.line(), lab.line()
        assert ask.startswith("#1 ") and " dns Query 0x" in ask
        assert ask.endswith(" A www.lab.test?")
        assert answer.endswith(" NOERROR A www.lab.test → 127.0.0.1")
        big = resolver.resolve("big.lab.test", "TXT")  # TC over UDP, then TCP
        assert "asks again over TCP" in big[0].to_text()
        lines = [lab.line() for _ in range(4)]
        assert lines[1].endswith("(truncated, TC)") and "→" in lines[3]
        try:
            resolver.resolve("nope.lab.test", "A")
            raise AssertionError("nope.lab.test should not exist")
        except dns.resolver.NXDOMAIN:
            pass
        assert lab.line().endswith("A nope.lab.test?")
        assert " NXDOMAIN A nope.lab.test" in lab.line()
        assert lab.terminate() == 0
        every = records(cap, 16)  # 4 connections (3 UDP peers, 1 TCP), opened and closed
        assert sorted(r["transport"] for r in every if r["type"] == "open") == [
            "tcp", "udp", "udp", "udp"]
        got = [r for r in every if r["type"] == "message"]
        assert len(got) == 8 and {r["protocol"] for r in got} == {"dns"}
        assert {r["server"] for r in got} == {f"127.0.0.1:{port}"}
        assert port_is_free(port) and port_is_free(port, socket.SOCK_DGRAM)
    finally:
        lab.kill()
