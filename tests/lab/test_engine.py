"""The Engine: servers behind Wires, clients that reach them, a clean shutdown."""

from __future__ import annotations

import asyncio
import socket

import pytest

import lab.engine.servers
from lab.clients.echo import EchoView
from lab.engine import Engine, EngineError
from lab.model import Event, NodeChanged, NodeRemoved, NodeState, Sender, Transport
from lab.servers import ServerKind, server_kinds
from tests.lab.helpers import EchoServer, run


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def test_echo_clients_reach_tcp_and_udp_echo_servers_and_are_captured() -> None:
    async def main() -> None:
        engine = Engine()
        events: list[Event] = []
        engine.capture.subscribe(events.append)
        tcp = await engine.add_server("tcp-echo", port=0)
        udp = await engine.add_server("udp-echo", port=0)
        assert tcp.state is NodeState.RUNNING and udp.state is NodeState.RUNNING
        assert tcp.address.startswith("127.0.0.1:") and _port(tcp.address) != 0
        assert {n.id for n in engine.running_servers()} == {tcp.id, udp.id}

        client = await engine.add_client("echo")
        assert (await engine.client_act(client.id, "connect",
                                        settings={"server": tcp.address})).ok
        view = engine.client_state(client.id).view
        assert view.connected and view.transport == "tcp" and view.remote == tcp.address
        assert (await engine.client_act(client.id, "send", ["hello"])).values["reply"] == "hello"
        msgs = list(engine.capture.messages)
        assert [(m.sender, m.raw) for m in msgs] == [
            (Sender.CLIENT, b"hello"), (Sender.SERVER, b"hello")]
        local = engine.client_state(client.id).view.local
        assert msgs[0].server == tcp.address and msgs[0].client == local
        assert msgs[0].protocol == "tcp-echo"
        assert [n for n in engine.nodes() if n.id == tcp.id][0].connections == 1

        other = await engine.add_client("echo")
        await engine.client_act(other.id, "connect", settings={
            "server": f"localhost:{_port(udp.address)}", "transport": "udp"})
        sent = await engine.client_act(other.id, "send", ["00 64 67 72 61 6d"],
                                       settings={"hex": "true"})
        assert sent.values["reply"] == "\x00dgram"
        udp_msgs = [m for m in engine.capture.messages if m.protocol == "udp-echo"]
        assert [(m.sender, m.raw) for m in udp_msgs] == [
            (Sender.CLIENT, b"\x00dgram"), (Sender.SERVER, b"\x00dgram")]
        names = {e.node.name for e in events if isinstance(e, NodeChanged)}
        assert {"TCP echo server #1", "UDP echo server #1", "Echo client #1",
                "Echo client #2"} <= names
        await engine.shutdown()

    run(main)


def test_a_client_of_an_outside_server_goes_through_an_outbound_wire() -> None:
    async def main() -> None:
        engine = Engine()
        async with EchoServer() as outside:
            client = await engine.add_client("echo")
            await engine.client_act(client.id, "connect",
                                    settings={"server": f"127.0.0.1:{outside.port}"})
            sent = await engine.client_act(client.id, "send", ["out there"])
            assert sent.values["reply"] == "out there"
            [conn] = engine.capture.connections.values()
            assert conn.transport is Transport.TCP and conn.node is None
            # The client talked to the Wire, which captures the real server's address.
            assert conn.server == f"127.0.0.1:{outside.port}"
            assert engine.capture.messages[0].client_node == client.id  # named on accept
            assert [(m.sender, m.raw) for m in engine.capture.messages] == [
                (Sender.CLIENT, b"out there"), (Sender.SERVER, b"out there")]
            await engine.client_close(client.id)
            await engine.client_act(client.id, "connect")
            assert (await engine.client_act(client.id, "send", ["again"])).values["reply"] == (
                "again")
            assert len(engine.capture.connections) == 2
            await engine.shutdown()
        assert all(c.closed is not None for c in engine.capture.connections.values())

    run(main)


def test_a_port_in_use_fails_the_server_with_a_message_naming_it() -> None:
    async def main() -> None:
        engine = Engine()
        changes: list[Event] = []
        engine.capture.subscribe(changes.append)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(EngineError, match=f"port {port}"):
                await engine.add_server("tcp-echo", port=port)
        [node] = engine.nodes()
        assert node.state is NodeState.FAILED
        assert str(port) in node.detail
        states = [e.node.state for e in changes if isinstance(e, NodeChanged)]
        assert states == [NodeState.STOPPED, NodeState.STARTING, NodeState.FAILED]
        info = await engine.start_server(node.id)  # the port is free now: it starts
        assert info.state is NodeState.RUNNING and info.address == f"127.0.0.1:{port}"
        await engine.remove_server(node.id)
        assert engine.nodes() == []
        assert isinstance(changes[-1], NodeRemoved)
        await engine.shutdown()

    run(main)


def test_errors_a_user_can_act_on() -> None:
    async def main() -> None:
        engine = Engine()
        with pytest.raises(EngineError, match="unknown server kind 'gopher'"):
            await engine.add_server("gopher")
        client = await engine.add_client("echo")
        refused = await engine.client_act(client.id, "send", ["x"])  # no server chosen
        assert not refused.ok and "no server" in refused.shown
        assert "no server" in engine.client_state(client.id).error
        bad = await engine.client_act(client.id, "connect", settings={"server": "127.0.0.1:http"})
        assert not bad.ok and "bad port" in bad.shown
        with socket.socket() as bound:  # bound but not listening: refused
            bound.bind(("127.0.0.1", 0))
            port = bound.getsockname()[1]
            server = await engine.add_server("tcp-echo", port=0)
            await engine.stop_server(server.id)
            # The outbound Wire accepts, then finds nobody behind it: Connect says so.
            failed = await engine.client_act(client.id, "connect",
                                             settings={"server": f"127.0.0.1:{port}"})
            assert not failed.ok and f"cannot connect to 127.0.0.1:{port}" in failed.shown
            assert "unreachable" in engine.client_state(client.id).error
            assert not engine.client_state(client.id).view.connected
            [conn] = engine.capture.connections.values()
            assert f"127.0.0.1:{port} unreachable" in conn.note
        await engine.shutdown()

    run(main)


def test_shutdown_frees_every_port() -> None:
    async def main() -> tuple[list[int], list[int]]:
        engine = Engine()
        tcp = await engine.add_server("tcp-echo", port=0)
        udp = await engine.add_server("udp-echo", port=0)
        async with EchoServer() as outside:
            relay = await engine.relay(("127.0.0.1", 0), ("127.0.0.1", outside.port))
            client = await engine.add_client("echo")
            await engine.client_act(client.id, "connect", settings={"server": tcp.address})
            assert (await engine.client_act(client.id, "send", ["x"])).values["reply"] == "x"
            tcp_ports = [_port(tcp.address), relay.address[1]]
            await engine.shutdown()
        assert all(n.state is not NodeState.RUNNING for n in engine.nodes())
        return tcp_ports, [_port(udp.address)]

    tcp_ports, udp_ports = run(main)
    for port in tcp_ports:
        with socket.socket() as again:
            again.bind(("127.0.0.1", port))
            again.listen()
    for port in udp_ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
            again.bind(("127.0.0.1", port))


class RudeBackend:
    """A server whose goodbye fails, or (``hang``) never ends until it is cancelled."""

    def __init__(self, hang: bool) -> None:
        self.hang = hang
        self.address = ("127.0.0.1", 0)
        self.saying = asyncio.Event()
        self.closed = False
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        self.address = self.server.sockets[0].getsockname()[:2]

    async def say_goodbye(self) -> None:
        self.saying.set()
        if self.hang:
            await asyncio.Event().wait()
        raise RuntimeError("no goodbye today")

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.closed = True


def test_a_failed_or_cancelled_goodbye_still_frees_the_port(
        monkeypatch: pytest.MonkeyPatch) -> None:
    backends: list[RudeBackend] = []

    async def start(options: dict[str, str]) -> RudeBackend:
        backend = RudeBackend(hang=options.get("hang") == "yes")
        await backend.start()
        backends.append(backend)
        return backend

    rude = ServerKind("rude", "Rude server", Transport.TCP, 0, start, protocol="raw")
    kinds = {**server_kinds(), "rude": rude}
    monkeypatch.setattr(lab.engine.servers, "server_kinds", lambda: kinds)

    async def main() -> list[int]:
        engine = Engine()
        failing = await engine.add_server("rude", port=0)
        stopped = await engine.stop_server(failing.id)  # the failure is logged, not raised
        assert stopped.state is NodeState.STOPPED and backends[0].closed
        hanging = await engine.add_server("rude", port=0, options={"hang": "yes"})
        stopping = asyncio.create_task(engine.stop_server(hanging.id))
        await asyncio.wait_for(backends[1].saying.wait(), 5)
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopping
        assert backends[1].closed
        await engine.shutdown()
        return [_port(failing.address), _port(hanging.address)]

    for port in run(main):
        with socket.socket() as again:
            again.bind(("127.0.0.1", port))
            again.listen()


def test_the_echo_client_kind_logs_what_it_did_in_its_view() -> None:
    """Echo is an ordinary client kind: connect/send/close through client_act; the
    EchoView carries the log; bad hex is refused before anything is connected."""

    async def main() -> None:
        engine = Engine()
        try:
            udp = await engine.add_server("udp-echo", port=0)
            client = await engine.add_client("echo", name="netcat", settings={
                "server": udp.address, "transport": "udp", "hex": "true"})
            bad = await engine.client_act(client.id, "send", ["zz"])
            assert not bad.ok and "not hex" in bad.shown
            view = engine.client_state(client.id).view
            assert isinstance(view, EchoView) and not view.connected
            sent = await engine.client_act(client.id, "send", ["ping"],
                                           settings={"hex": "false"})
            assert sent.values["reply"] == "ping"
            view = engine.client_state(client.id).view
            assert view.connected and view.transport == "udp" and view.remote == udp.address
            assert [line.what for line in view.log] == ["note", "note", "sent", "came back"]
            assert view.log[-1].data == b"ping" and view.total == 4
            await engine.client_close(client.id)
            view = engine.client_state(client.id).view
            assert not view.connected and view.log[-1].text == "socket closed"  # UDP
        finally:
            await engine.shutdown()

    run(main)


def test_removing_a_client_ends_its_held_action_and_the_ones_queued_behind_it() -> None:
    async def main() -> None:
        engine = Engine()
        server = await engine.add_server("tcp-echo", port=0)
        client = await engine.add_client("echo", settings={"server": server.address})
        assert (await engine.client_act(client.id, "connect")).ok
        engine.wire_board.set_step(server.id, True)
        held = asyncio.ensure_future(engine.client_act(client.id, "send", ["held"]))
        while not engine.wire_board.held(None):  # the first send waits at the Wire
            await asyncio.sleep(0.01)
        queued = asyncio.ensure_future(engine.client_act(client.id, "send", ["queued"]))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(engine.remove_client(client.id), 10)
        done, _ = await asyncio.wait({held, queued}, timeout=10)
        assert done == {held, queued}
        assert held.cancelled() or not held.result().ok
        assert queued.result().shown == "the client was removed"
        assert not [m for m in engine.capture.messages if m.raw == b"queued"]
        assert client.id not in {n.id for n in engine.nodes()}
        await engine.shutdown()

    run(main)
