"""Classroom LAN mode: the machine's addresses, the address to share, a shared server."""

from __future__ import annotations

import asyncio
import ipaddress

from lab import lan
from lab.engine import Engine
from lab.lan import Caps
from lab.model import NodeState
from tests.lab.helpers import run


def test_interfaces_list_loopback_first_with_ipv4_addresses() -> None:
    faces = lan.interfaces()
    assert faces and faces[0].loopback and faces[0].address == "127.0.0.1"
    assert all(face.address.count(".") == 3 for face in faces)


def test_the_audience_names_the_networks_a_shared_address_reaches() -> None:
    assert lan.audience("127.0.0.1") == ""
    faces = [face for face in lan.interfaces() if not face.loopback]
    loopback = lan.interfaces()[0]
    assert loopback.network == "127.0.0.0/8"
    for face in faces:
        assert lan.audience(face.address) == f"machines on {face.network}"
        assert ipaddress.ip_address(face.address) in ipaddress.ip_network(face.network)
    everywhere = lan.audience("0.0.0.0")
    assert all(face.network in everywhere for face in faces)


def test_share_address_is_a_url_for_http_and_host_port_otherwise() -> None:
    assert lan.share_addresses("http", "192.168.1.20", 8080) == ["http://192.168.1.20:8080/"]
    assert lan.share_addresses("smtp", "192.168.1.20", 2525) == ["192.168.1.20:2525"]
    everywhere = lan.share_addresses("http", "0.0.0.0", 8080)
    lan_hosts = [face.address for face in lan.interfaces() if not face.loopback]
    assert everywhere == [f"http://{host}:8080/" for host in lan_hosts]


def test_caps_are_off_on_loopback_and_on_when_shared() -> None:
    assert Caps.for_host("127.0.0.1") == Caps(0, 0)
    assert Caps.for_host("0.0.0.0") == Caps(lan.SHARED_PER_CLIENT, lan.SHARED_TOTAL)
    assert Caps.for_host("10.0.0.1", 3, 0) == Caps(3, 0)
    caps = Caps(2, 3)
    assert caps.refusal("10.0.0.2", 1, 1) == ""
    assert caps.refusal("10.0.0.2", 2, 2) == (
        "Wire refused 10.0.0.2: more than 2 connections from one address")
    assert caps.refusal("10.0.0.3", 0, 3) == "Wire refused 10.0.0.3: more than 3 connections in all"


async def _echo(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await reader.readexactly(len(data))
    writer.close()
    return answer


def test_sharing_a_running_server_restarts_its_wire_on_the_same_port() -> None:
    async def main() -> None:
        engine = Engine()
        info = await engine.add_server("tcp-echo", port=0)
        port = int(info.address.rpartition(":")[2])
        assert engine.share_addresses(info.id) == []
        shared = await engine.share_server(info.id, "0.0.0.0", max_per_client=5)
        assert shared.state is NodeState.RUNNING and shared.address == f"0.0.0.0:{port}"
        assert await _echo(port, b"hi") == b"hi"
        assert [w.caps for w in engine._wires_of(info.id)] == [Caps(5, lan.SHARED_TOTAL)]
        assert shared.caps == (5, lan.SHARED_TOTAL)  # what the share banner says
        lan_hosts = [face.address for face in lan.interfaces() if not face.loopback]
        assert engine.share_addresses(info.id) == [f"{h}:{port}" for h in lan_hosts]
        back = await engine.share_server(info.id, "127.0.0.1")
        assert back.address == f"127.0.0.1:{port}" and engine.share_addresses(info.id) == []
        assert [w.caps for w in engine._wires_of(info.id)] == [Caps()] and back.caps == (0, 0)
        await engine.shutdown()

    run(main)
