"""The capture knows each end of a connection before its first message (issue 15,
"Lanes that explain nothing"): a lab client's connection carries its node from the
first Message on, even one the Wire resets at once (the HTTP client binds its socket
and says its address before it connects); a program that is no lab node
stays an outside client; an outbound Wire captures the real server's address."""

from __future__ import annotations

import asyncio

from lab.capture import Capture
from lab.engine import Engine
from lab.model import EndpointNamed, Event, Sender, Transport
from lab.naming import Namer
from tests.lab.helpers import EchoServer, run


def test_a_connection_reset_at_its_first_message_names_its_client() -> None:
    async def main() -> None:
        engine = Engine()
        server = await engine.add_server("http", port=0)
        client = await engine.add_client("http", name="A second composer",
                                         settings={"server": server.address})
        engine.wire_board.set_faults(server.id, reset_at_message=1)
        outcome = await engine.client_act(client.id, "get", ["/index.html"])
        assert not outcome.ok
        resets = [m for m in engine.capture.messages if m.injected]
        assert resets and all("reset the connection" in m.summary for m in resets)
        assert {m.client_node for m in engine.capture.messages} == {client.id}
        namer = Namer({n.id: n for n in engine.nodes()}, {})
        assert {namer(m, Sender.CLIENT) for m in resets} == {"A second composer"}
        await engine.shutdown()

    run(main)


def test_a_clients_end_is_named_once_and_before_its_first_message() -> None:
    async def main() -> None:
        engine = Engine()
        events: list[Event] = []
        engine.capture.subscribe(events.append)
        server = await engine.add_server("tcp-echo", port=0)
        client = await engine.add_client("echo", settings={"server": server.address})
        assert (await engine.client_act(client.id, "send", ["hi"])).ok
        [conn] = engine.capture.connections.values()
        named = [e for e in events if isinstance(e, EndpointNamed)]
        assert [(e.address, e.node_id) for e in named] == [(conn.client, client.id)]
        kinds = [type(e).__name__ for e in events
                 if type(e).__name__ in ("EndpointNamed", "MessageCaptured")]
        assert kinds[0] == "EndpointNamed" and kinds.count("EndpointNamed") == 1
        await engine.shutdown()

    run(main)


def test_a_udp_clients_first_datagram_knows_its_client() -> None:
    async def main() -> None:
        engine = Engine()
        server = await engine.add_server("udp-echo", port=0)
        client = await engine.add_client("echo", settings={"server": server.address,
                                                           "transport": "udp"})
        assert (await engine.client_act(client.id, "send", ["ping"])).values["reply"] == "ping"
        assert [m.client_node for m in engine.capture.messages] == [client.id, client.id]
        await engine.shutdown()

    run(main)


def test_a_program_that_is_no_lab_node_is_not_taken_for_one() -> None:
    async def main() -> None:
        engine = Engine()
        server = await engine.add_server("tcp-echo", port=0)
        host, _, port = server.address.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"hello\n")
        await writer.drain()
        await reader.readline()
        writer.close()
        await writer.wait_closed()
        assert engine.capture.messages
        assert {m.client_node for m in engine.capture.messages} == {None}
        assert engine.capture.endpoints == {}
        namer = Namer({n.id: n for n in engine.nodes()}, engine.capture.endpoints)
        assert namer(engine.capture.messages[0], Sender.CLIENT) == "outside client 127.0.0.1"
        await engine.shutdown()

    run(main)


def test_an_outbound_wire_captures_the_real_servers_address() -> None:
    async def main() -> None:
        engine = Engine()
        async with EchoServer() as outside:
            client = await engine.add_client("echo")
            real = f"127.0.0.1:{outside.port}"
            await engine.client_act(client.id, "connect", settings={"server": real})
            assert (await engine.client_act(client.id, "send", ["hi"])).values["reply"] == "hi"
            [conn] = engine.capture.connections.values()
            assert conn.server == real and conn.transport is Transport.TCP
            routed = await engine.route(Transport.TCP, "127.0.0.1", outside.port)
            assert routed != ("127.0.0.1", outside.port)  # the client went by the Wire
            namer = Namer({n.id: n for n in engine.nodes()}, {})
            message = engine.capture.messages[0]
            assert namer(message, Sender.SERVER) == real
            assert namer(message, Sender.CLIENT) == client.name
            again = await engine.replay(conn.id)  # replay still finds the outbound Wire
            assert again.connection is not None
            assert engine.capture.connections[again.connection].server == real
            await engine.client_close(client.id)
        await engine.shutdown()

    run(main)


def test_the_capture_names_nothing_by_itself() -> None:
    capture = Capture()
    conn = capture.open(protocol="raw", transport=Transport.TCP, client="127.0.0.1:5000",
                        server="127.0.0.1:7")
    assert capture.client_node(conn) is None
