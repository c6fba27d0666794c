"""The lab's DNS lookup client (like dig) against the lab's server and against a DNS
server outside the lab, whose traffic must cross outbound Wires and be captured."""

from __future__ import annotations

import socket
import time

from lab.clients.dns import DnsClient, DnsResult
from lab.clients.http import HttpClient
from lab.engine import Engine
from lab.model import EndpointNamed, Sender, Transport
from lab.servers.dns import DnsBackend
from lab.servers.dns_zone import Zone
from tests.lab.helpers import closed_udp_port, run


async def lab_client(engine: Engine) -> tuple[DnsClient, list[str]]:
    named: list[str] = []
    engine.capture.subscribe(
        lambda e: named.append(e.address) if isinstance(e, EndpointNamed) else None)
    info = await engine.add_client("dns")
    client = engine.client_object(info.id)
    assert isinstance(client, DnsClient)
    return client, named


def test_a_lookup_like_dig_and_the_retry_over_tcp() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("dns", port=0)
            client, named = await lab_client(engine)
            www = await client.query("www.lab.test", "A", server.address)
            assert www.ok and www.rcode == "NOERROR" and www.flags == ("qr", "aa", "rd")
            assert www.addresses() == ["127.0.0.1"] and not www.retried_tcp and not www.tcp
            assert [(r.section, r.name, r.ttl, r.type) for r in www.rows] == [
                ("answer", "www.lab.test.", 300, "A")]
            assert www.ms > 0 and www.size == 46
            big = await client.query("big.lab.test", "txt", server.address)
            assert big.ok and big.retried_tcp and big.tcp and big.size > 512
            assert "asks again over TCP" in big.section("answer")[0].value
            missing = await client.query("nope.lab.test", "A", server.address, tcp=True)
            assert missing.rcode == "NXDOMAIN" and missing.tcp and not missing.retried_tcp
            assert missing.section("authority")[0].type == "SOA"
            client_sides = {m.client for m in engine.capture.messages}
            assert client_sides == set(named) and len(named) == 4  # UDP, UDP+TCP, TCP
        finally:
            await engine.shutdown()

    run(main)


def test_mistakes_and_silence_are_sentences() -> None:
    async def main() -> None:
        engine = Engine()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))  # takes datagrams, never answers
            port = silent.getsockname()[1]
            try:
                client, _ = await lab_client(engine)
                client.timeout = 0.5
                quiet = await client.query("www.lab.test", "A", f"127.0.0.1:{port}")
                assert quiet.error == (f"no answer from 127.0.0.1:{port} after 0.5 s "
                                       "(is a DNS server running there?)")
                assert not quiet.ok and quiet.rows == ()
                bad_type = await client.query("www.lab.test", "NOPE", f"127.0.0.1:{port}")
                assert bad_type.error.startswith("unknown record type 'NOPE': try one of A,")
                bad_server = await client.query("www.lab.test", "A", "127.0.0.1:99999")
                assert "99999" in bad_server.error
                assert (await client.query(" ", "A", "127.0.0.1:53")).error.startswith(
                    "no name")
            finally:
                await engine.shutdown()

    run(main)


def test_a_server_outside_the_lab_is_asked_through_outbound_wires() -> None:
    async def main() -> None:
        outside = DnsBackend(Zone.default())
        await outside.start()
        assert outside.address[1] != outside.tcp_address[1]
        engine = Engine()
        try:
            client, _ = await lab_client(engine)
            # The lab routes to the server's UDP port; its TCP port differs, so ask
            # each transport where that outside server really listens.
            where = f"127.0.0.1:{outside.address[1]}"
            www = await client.query("www.lab.test", "A", where)
            assert www.addresses() == ["127.0.0.1"]
            over_tcp = await client.query("web.lab.test", "A",
                                          f"127.0.0.1:{outside.tcp_address[1]}", tcp=True)
            assert over_tcp.addresses() == ["127.0.0.1"]
            captured = [(engine.capture.connections[m.connection].transport.value, m.sender,
                         m.summary) for m in engine.capture.messages]
            assert [(t, s) for t, s, _ in captured] == [
                ("udp", Sender.CLIENT), ("udp", Sender.SERVER),
                ("tcp", Sender.CLIENT), ("tcp", Sender.SERVER)]
            assert captured[1][2].endswith("NOERROR A www.lab.test → 127.0.0.1")
            assert captured[3][2].endswith(  # dissected in DNS's TCP form, not as datagrams
                "NOERROR A web.lab.test → CNAME www.lab.test, 127.0.0.1")
            assert not any(m.malformed for m in engine.capture.messages)
        finally:
            await engine.shutdown()
            await outside.close()

    run(main)


def test_a_closed_port_refuses_through_the_outbound_wire_at_once() -> None:
    async def main() -> None:
        engine = Engine()
        port = closed_udp_port()
        try:
            client, _ = await lab_client(engine)
            client.timeout = 10.0
            start = time.monotonic()
            refused = await client.query("www.lab.test", "A", f"127.0.0.1:{port}")
            assert refused.error == f"127.0.0.1:{port} refused the query (no DNS server there)"
            assert time.monotonic() - start < 5.0  # the refusal, not the timeout
            assert [m.summary.split(" ")[0] for m in engine.capture.messages] == ["Query"]
            http = engine.client_object((await engine.add_client("http")).id)
            assert isinstance(http, HttpClient)
            looked_up = await http.request("GET", "http://www.lab.test/",
                                           dns_server=f"127.0.0.1:{port}")
            assert looked_up.error == (f"www.lab.test: lookup failed: 127.0.0.1:{port} "
                                       "refused the query (no DNS server there)")
            assert time.monotonic() - start < 10.0
            await http.close()
        finally:
            await engine.shutdown()
        [connection, *_] = engine.capture.connections.values()
        assert connection.note.startswith("server unreachable:")

    run(main)


def test_a_server_typed_without_a_port_is_asked_on_53_and_the_lab_port_suggested() -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))  # stands in for port 53: takes, never answers
            quiet_port = silent.getsockname()[1]
            closed = closed_udp_port()
            asked: list[tuple[Transport, str, int]] = []
            really = {"port": quiet_port}  # where the router sends whatever is asked

            async def route(transport: Transport, host: str, port: int,
                            protocol: str) -> tuple[str, int]:
                asked.append((transport, host, port))
                return "127.0.0.1", really["port"]

            client = DnsClient(route, timeout=0.3)
            quiet = await client.query("www.lab.test", "A", "127.0.0.1")
            assert asked == [(Transport.UDP, "127.0.0.1", 53)] and quiet.server == "127.0.0.1"
            assert quiet.error == ("no answer from 127.0.0.1:53 after 0.3 s (the lab's DNS "
                                   "server listens on 5300: try 127.0.0.1:5300)")
            really["port"] = closed
            refused = await client.query("www.lab.test", "A", "[::1]")
            assert asked[-1] == (Transport.UDP, "::1", 53)
            assert refused.error == ("[::1]:53 refused the query (no DNS server there; the "
                                     "lab's DNS server listens on 5300: try [::1]:5300)")
            typed = await client.query("www.lab.test", "A", f"127.0.0.1:{closed}")
            assert typed.error == f"127.0.0.1:{closed} refused the query (no DNS server there)"
            really["port"] = quiet_port
            assert (await client.query("a.test", "A", "10.0.0.1")).error == (
                "no answer from 10.0.0.1:53 after 0.3 s (is a DNS server running there?)")
            assert (await client.query("a.test", "A", "5300")).error.startswith(
                "no answer from 127.0.0.1:5300 ")  # a port alone, as before
            assert asked[-2:] == [(Transport.UDP, "10.0.0.1", 53),
                                  (Transport.UDP, "127.0.0.1", 5300)]

    run(main)


def test_the_query_action_takes_the_name_and_type_as_settings_and_shows_the_result() -> None:
    """As lesson 6 runs it: ``query NAME TYPE`` asks the ``server`` setting's server;
    the name and type become settings, the DnsResult the state's view."""

    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("dns", port=0)
            info = await engine.add_client("dns", settings={"server": server.address})
            found = await engine.client_act(info.id, "query", ["www.lab.test", "A"])
            assert found.ok and found.values["rcode"] == "NOERROR"
            assert "127.0.0.1" in found.values["text"]
            state = engine.client_state(info.id)
            assert (state.setting("name"), state.setting("type")) == ("www.lab.test", "A")
            assert isinstance(state.view, DnsResult) and state.view.addresses() == ["127.0.0.1"]
            again = await engine.client_act(info.id, "query", settings={"tcp": "true",
                                                                        "type": "MX"})
            assert again.ok and engine.client_state(info.id).view.tcp
            assert engine.client_state(info.id).view.type == "MX"
            missing = await engine.client_act(info.id, "query", ["nowhere.lab.test", "A"])
            assert missing.ok and missing.values["rcode"] == "NXDOMAIN"
            wrong = await engine.client_act(info.id, "query", ["www.lab.test", "BOGUS"])
            assert not wrong.ok and "unknown record type" in engine.client_state(info.id).error
        finally:
            await engine.shutdown()

    run(main)
