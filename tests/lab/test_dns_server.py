"""The DNS server behind its Wires (UDP and TCP on one port), asked by dnspython's own
resolver and query functions, and by raw sockets sending what no resolver would."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.resolver
import dns.update
import pytest

from lab.engine import Engine, EngineError
from lab.model import NodeInfo, Sender
from lab.pairing import Pairer
from lab.servers.dns import DnsBackend, ZoneError, reply_to
from lab.servers.dns_zone import Zone
from tests.lab.helpers import run
from tests.lab.test_dissect_dns import POINTER_LOOP

T = TypeVar("T")
BIG = "big.lab.test"


@asynccontextmanager
async def dns_lab() -> AsyncIterator[tuple[Engine, NodeInfo, int]]:
    engine = Engine()
    try:
        info = await engine.add_server("dns", port=0)
        yield engine, info, int(info.address.rpartition(":")[2])
    finally:
        await engine.shutdown()


def lab_test(body: Callable[[Engine, NodeInfo, int], Awaitable[T]]) -> T:
    async def main() -> T:
        async with dns_lab() as (engine, info, port):
            return await body(engine, info, port)

    return run(main)


def resolver(port: int) -> dns.resolver.Resolver:
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = 5.0
    return r


async def udp(port: int, name: str, rdtype: str = "A", **kwargs: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    return await asyncio.to_thread(dns.query.udp, query, "127.0.0.1", timeout=5, port=port)


async def tcp(port: int, name: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return await asyncio.to_thread(dns.query.tcp, query, "127.0.0.1", timeout=5, port=port)


def backend_of(engine: Engine, info: NodeInfo) -> DnsBackend:
    backend = engine.server_backend(info.id)
    assert isinstance(backend, DnsBackend)
    return backend


def test_dnspythons_resolver_gets_the_zones_answers() -> None:
    async def body(engine: Engine, info: NodeInfo, port: int) -> None:
        r = resolver(port)

        async def resolve(name: str, rdtype: str = "A") -> dns.resolver.Answer:
            return await asyncio.to_thread(r.resolve, name, rdtype)

        assert [a.to_text() for a in await resolve("www.lab.test")] == ["127.0.0.1"]
        assert [a.to_text() for a in await resolve("www.lab.test", "AAAA")] == ["::1"]
        web = await resolve("web.lab.test")
        assert web.canonical_name.to_text() == "www.lab.test." and web[0].to_text() == "127.0.0.1"
        assert [a.to_text() for a in await resolve("lab.test", "MX")] == ["10 mail.lab.test."]
        big = await resolve(BIG, "TXT")  # truncated over UDP, so the resolver asked over TCP
        assert "the client asks again over TCP" in big[0].to_text()
        with pytest.raises(dns.resolver.NXDOMAIN):
            await resolve("nope.lab.test")
        messages = engine.capture.messages
        assert all(m.protocol == "dns" and not m.malformed for m in messages)
        assert any(m.summary.endswith("TXT big.lab.test (truncated, TC)") for m in messages)
        pairer, paired = Pairer(), 0
        for m in messages:
            question = pairer.add(m.id, protocol=m.protocol, connection=m.connection,
                                  from_client=m.sender is Sender.CLIENT,
                                  first_field=m.fields[0])
            if question is not None:
                assert messages[question - 1].fields[0] == m.fields[0]
                paired += 1
        assert paired == len(messages) // 2 == 7

    lab_test(body)


def test_refused_truncation_over_udp_and_the_whole_answer_over_tcp() -> None:
    async def body(engine: Engine, info: NodeInfo, port: int) -> None:
        refused = await udp(port, "www.example.com")
        assert refused.rcode() == dns.rcode.REFUSED and not refused.answer
        cut = await udp(port, BIG, "TXT")
        assert cut.flags & dns.flags.TC and not cut.answer and len(cut.to_wire()) <= 512
        roomy = await udp(port, BIG, "TXT", use_edns=0, payload=1232)
        assert not roomy.flags & dns.flags.TC and len(roomy.to_wire()) > 512
        whole = await tcp(port, BIG, "TXT")
        assert not whole.flags & dns.flags.TC and whole.answer == roomy.answer
        over_tcp = [m for m in engine.capture.messages
                    if engine.capture.connections[m.connection].transport.value == "tcp"]
        assert [m.summary[:30] for m in over_tcp] == [
            f"Query 0x{whole.id:04x} TXT big.lab.test?"[:30],
            f"Response 0x{whole.id:04x} NOERROR TXT big"[:30]]
        assert {m.server for m in over_tcp} == {info.address}  # the same port as UDP

    lab_test(body)


def test_the_edns_payload_size_sets_the_udp_limit() -> None:
    async def body(engine: Engine, info: NodeInfo, port: int) -> None:
        whole = await tcp(port, BIG, "TXT")
        assert 600 < len(whole.to_wire()) < 4096
        small = await udp(port, BIG, "TXT", use_edns=0, payload=600)
        assert small.flags & dns.flags.TC and len(small.to_wire()) <= 600
        big = await udp(port, BIG, "TXT", use_edns=0, payload=4096)
        assert not big.flags & dns.flags.TC and big.answer == whole.answer
        tiny = await udp(port, BIG, "TXT", use_edns=0, payload=100)  # below 512: 512 holds
        assert tiny.flags & dns.flags.TC and len(tiny.to_wire()) <= 512

    lab_test(body)


def test_an_unknown_edns_version_gets_badvers_and_an_update_notimp() -> None:
    zone = Zone.default()
    v1 = dns.message.make_query("www.lab.test", "A", use_edns=1)
    badvers = dns.message.from_wire(reply_to(zone, v1.to_wire(), None) or b"")
    assert badvers.rcode() == dns.rcode.BADVERS and not badvers.answer  # RFC 6891 6.1.3
    assert badvers.edns == 0 and v1.is_response(badvers)  # the version this server speaks
    # dnspython cannot even parse this one (an UPDATE's zone section must hold an SOA),
    # but its header says UPDATE, which this server does not do: NOTIMP, not FORMERR.
    update = dns.message.make_query("www.lab.test", "A")
    update.set_opcode(dns.opcode.UPDATE)
    notimp = dns.message.from_wire(reply_to(zone, update.to_wire(), None) or b"")
    assert notimp.rcode() == dns.rcode.NOTIMP and notimp.opcode() == dns.opcode.UPDATE
    assert notimp.id == update.id
    proper = dns.update.UpdateMessage("lab.test")
    proper.add("shop", 300, "A", "127.0.0.5")
    reply = dns.message.from_wire(reply_to(zone, proper.to_wire(), None) or b"")
    assert reply.rcode() == dns.rcode.NOTIMP and "shop.lab.test" not in zone.to_text()


def test_malformed_datagrams_are_captured_and_the_next_query_is_answered() -> None:
    async def body(engine: Engine, info: NodeInfo, port: int) -> None:
        def exchange() -> tuple[bytes, dns.message.Message]:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(5)
                sock.connect(("127.0.0.1", port))
                sock.send(POINTER_LOOP)  # the header is readable: FORMERR comes back
                formerr = sock.recv(4096)
                sock.send(random.Random(6).randbytes(64))
                sock.send(b"\x1a\x2b\x01\x00\x00")  # a header cut short: no answer at all
                good = dns.message.make_query("www.lab.test", "A")
                sock.send(good.to_wire())
                while True:  # the random bytes may have earned a FORMERR of their own
                    reply = dns.message.from_wire(sock.recv(4096))
                    if good.is_response(reply):
                        return formerr, reply

        formerr, answer = await asyncio.to_thread(exchange)
        formerr_message = dns.message.from_wire(formerr)
        assert formerr_message.id == 0x1A2B and formerr_message.rcode() == dns.rcode.FORMERR
        assert answer.answer[0].to_text() == "www.lab.test. 300 IN A 127.0.0.1"
        sent = [m for m in engine.capture.messages if m.sender is Sender.CLIENT]
        assert [m.malformed for m in sent] == [True, True, True, False]
        assert "compression pointer" in sent[0].summary
        assert sent[2].summary == "malformed query: shorter than the 12-byte DNS header"
        replies = [m.summary for m in engine.capture.messages if m.sender is Sender.SERVER]
        assert replies[0] == "Response 0x1a2b FORMERR (no question)"
        assert replies[-1].endswith("A www.lab.test → 127.0.0.1")
        [node] = engine.nodes()
        assert node.state.value == "running"

    lab_test(body)


def test_a_record_added_is_answered_and_survives_a_restart() -> None:
    async def body(engine: Engine, info: NodeInfo, port: int) -> None:
        backend = backend_of(engine, info)
        changes: list[object] = []
        backend.watch(changes.append)
        backend.add_record("shop", "A", "127.0.0.7", 60)
        assert len(changes) == 1
        assert (await udp(port, "shop.lab.test")).answer[0].to_text() == (
            "shop.lab.test. 60 IN A 127.0.0.7")
        with pytest.raises(ZoneError, match="outside the zone"):
            backend.add_record("shop.example.com", "A", "127.0.0.7")
        await engine.stop_server(info.id)
        await engine.start_server(info.id, port=port)
        again = backend_of(engine, info)
        assert again is not backend
        assert any(r.name == "shop.lab.test" for r in again.records())
        assert (await udp(port, "shop.lab.test")).answer[0][0].to_text() == "127.0.0.7"
        again.remove_record("shop.lab.test", "A", "127.0.0.7")
        assert (await udp(port, "shop.lab.test")).rcode() == dns.rcode.NXDOMAIN

    lab_test(body)


def port_is_free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_tcp_side_counts_connections_and_stops_cleanly() -> None:
    async def body(engine: Engine, info: NodeInfo, port: int) -> None:
        query = dns.message.make_query("www.lab.test", "A")
        streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        for reader, writer in streams:
            writer.write(query.to_wire(prepend_length=True))
            size = int.from_bytes(await reader.readexactly(2), "big")
            assert dns.message.from_wire(await reader.readexactly(size)).answer
        [node] = engine.nodes()
        assert node.connections == 2
        await engine.stop_server(info.id)
        for reader, writer in streams:
            assert await reader.read() == b""  # the server cut them on its way out
            writer.close()
        [node] = engine.nodes()
        assert node.connections == 0 and node.state.value == "stopped"
        assert port_is_free(port, socket.SOCK_STREAM)
        assert port_is_free(port, socket.SOCK_DGRAM)
        closed = [c for c in engine.capture.connections.values() if c.closed is not None]
        assert len(closed) == 2 and {c.protocol for c in closed} == {"dns"}

    lab_test(body)


def test_port_zero_finds_a_port_free_for_both_udp_and_tcp() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            for _ in range(60):  # the system's UDP pick is often taken for TCP
                info = await engine.add_server("dns", port=0)
                assert info.state.value == "running"
                assert (await udp(int(info.address.rpartition(":")[2]), "www.lab.test")).answer
                await engine.remove_server(info.id)
        finally:
            await engine.shutdown()

    run(main, timeout=60)


def test_a_chosen_port_busy_over_tcp_is_named() -> None:
    async def main() -> None:
        engine = Engine()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            try:
                with pytest.raises(EngineError, match=f"port {port} is already in use"):
                    await engine.add_server("dns", port=port)
                [node] = engine.nodes()
                assert node.state.value == "failed"
                assert port_is_free(port, socket.SOCK_DGRAM)  # the UDP side let go
            finally:
                await engine.shutdown()

    run(main)


def test_this_machine_gets_a_minimal_any_over_udp_all_over_tcp_and_no_rate_limit() -> None:
    async def body(engine: Engine, info: NodeInfo, port: int) -> None:
        minimal = await udp(port, "lab.test", "ANY")
        assert [r.to_text() for r in minimal.answer] == ['lab.test. 300 IN HINFO "RFC8482" ""']
        whole = await tcp(port, "lab.test", "ANY")
        assert len(whole.answer) == 4 and not whole.flags & dns.flags.TC
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # a burst of 60
            sock.settimeout(5)
            query = dns.message.make_query(BIG, "TXT", use_edns=0, payload=4096).to_wire()
            for _ in range(60):
                sock.sendto(query, ("127.0.0.1", port))
            sizes = [len(await asyncio.to_thread(sock.recv, 65535)) for _ in range(60)]
        assert sizes == [810] * 60  # the guard is for other machines (tests/lab/test_dns_guard.py)
        assert backend_of(engine, info).refusals.view() == ()
        assert not any(m.injected for m in engine.capture.messages)

    lab_test(body)
