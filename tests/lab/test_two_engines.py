"""Two Engines in one process do not affect each other: step mode, faults, nodes,
capture, connection budget and shutting down are each engine's own (nothing of an
engine is process-wide). Real sockets on 127.0.0.1, ports picked by the system."""

from __future__ import annotations

import asyncio

from lab.clients import patience
from lab.engine import Engine
from lab.hold import STEP_TIMEOUT
from lab.model import NodeInfo
from lab.wire.faults import Faults
from tests.lab.helpers import run


async def echo_pair(engine: Engine, name: str) -> tuple[NodeInfo, NodeInfo]:
    """A tcp-echo server and an echo client pointed at it."""
    server = await engine.add_server("tcp-echo", port=0, name=f"{name} echo")
    client = await engine.add_client("echo", name=f"{name} nc",
                                     settings={"server": server.address})
    return server, client


async def send(engine: Engine, client: NodeInfo, text: str) -> str:
    outcome = await engine.client_act(client.id, "send", [text])
    assert outcome.ok, outcome.shown
    return str(outcome.values["reply"])


def raws(engine: Engine) -> bytes:
    return b"".join(m.raw for m in engine.capture.messages)


def test_step_mode_in_one_engine_neither_holds_nor_slows_the_other() -> None:
    async def main() -> None:
        a, b = Engine(), Engine()
        try:
            (sa, ka), (sb, kb) = await echo_pair(a, "A"), await echo_pair(b, "B")
            assert sa.id == sb.id  # the same ids: nothing may be found by id across engines
            a.wire_board.set_step(None, True)
            assert a.wire_board.patient(30.0) == STEP_TIMEOUT
            assert patience(a.client_object(ka.id)._route)(30.0) == STEP_TIMEOUT  # type: ignore[attr-defined]
            assert b.wire_board.patient(30.0) == 30.0
            assert patience(b.client_object(kb.id)._route)(30.0) == 30.0  # type: ignore[attr-defined]
            assert [w.patient(30.0) for w in b._wires_of(None)] == [30.0]
            assert not b.wire_board.stepping(None)

            host, port = sa.address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"held in A\n")
            while not a.wire_board.held():
                await asyncio.sleep(0.01)
            assert await send(b, kb, "B flows") == "B flows"  # while A holds
            assert b.wire_board.held() == []
            a.wire_board.set_step(None, False)  # forwards what A holds
            assert await asyncio.wait_for(reader.readexactly(10), 10) == b"held in A\n"
            assert a.wire_board.patient(30.0) == 30.0
            writer.close()
            await writer.wait_closed()
        finally:
            await a.shutdown()
            await b.shutdown()

    run(main)


def test_faults_nodes_capture_and_budget_are_each_engines_own() -> None:
    async def main() -> None:
        a, b = Engine(), Engine()
        try:
            (sa, ka), (sb, kb) = await echo_pair(a, "A"), await echo_pair(b, "B")
            a.wire_board.set_faults(sa.id, refuse=True)
            assert a.wire_board.faults(sa.id).refuse
            assert b.wire_board.faults(sb.id) == Faults()
            assert not (await a.client_act(ka.id, "send", ["refused"])).ok
            assert await send(b, kb, "B reply") == "B reply"

            assert {n.name for n in a.nodes()} == {"A echo", "A nc"}
            assert {n.name for n in b.nodes()} == {"B echo", "B nc"}
            assert a.capture is not b.capture
            assert b"B reply" in raws(b) and b"B reply" not in raws(a)
            assert a.budget is not b.budget
            assert b.budget.open == 1 and a.budget.open == 0  # B's client stays connected
        finally:
            await a.shutdown()
            await b.shutdown()

    run(main)


def test_shutting_one_engine_down_leaves_the_other_serving() -> None:
    async def main() -> None:
        a, b = Engine(), Engine()
        try:
            (sa, ka), (sb, kb) = await echo_pair(a, "A"), await echo_pair(b, "B")
            assert await send(a, ka, "A first") == "A first"
            assert await send(b, kb, "B first") == "B first"
            await a.shutdown()
            assert a.running_servers() == []
            host, port = sa.address.rsplit(":", 1)
            try:
                _, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                pass  # nothing listens where A's server was
            else:
                writer.close()
                raise AssertionError("A's server still listens after its shutdown")
            assert [n.id for n in b.running_servers()] == [sb.id]
            assert await send(b, kb, "B still") == "B still"
            await b.client_close(kb.id)
            assert await send(b, kb, "B again") == "B again"  # a new connection
        finally:
            await a.shutdown()
            await b.shutdown()

    run(main)
