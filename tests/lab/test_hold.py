"""Hold-and-step: curl through a lab HTTP server whose Wire steps waits for Forward;
Drop resets it; Edit changes what the server gets; the capture keeps all three."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from lab.capture import Capture
from lab.engine import Engine, EngineError
from lab.hold import STEP_TIMEOUT
from lab.model import NodeInfo, Sender
from lab.servers.echo import start_udp_echo
from lab.wire import UdpWire
from lab.wire.hold import HeldMessage
from tests.lab.helpers import EchoServer, run
from tests.lab.test_wire import wired

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


async def held_soon(engine: Engine, node: str | None, count: int = 1) -> list[HeldMessage]:
    for _ in range(500):
        held = engine.wire_board.held(node)
        if len(held) >= count:
            return held
        await asyncio.sleep(0.01)
    raise AssertionError("nothing held in time")


async def curl(url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "curl", "-sS", "--max-time", "20", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def stepping_http(engine: Engine) -> NodeInfo:
    info = await engine.add_server("http", port=0)
    engine.wire_board.set_step(info.id, True)
    return info


@needs_curl
def test_curl_through_a_stepping_wire_completes_only_after_forward() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await stepping_http(engine)
            proc = await curl(f"http://{info.address}/index.html")
            request = (await held_soon(engine, info.id))[0]
            assert request.sender is Sender.CLIENT
            assert request.data.startswith(b"GET /index.html HTTP/1.1\r\n")
            assert "GET /index.html" in request.summary
            await asyncio.sleep(0.5)
            assert proc.returncode is None  # curl still waits
            engine.wire_board.forward(request.id)
            # the answer is held too (step mode holds both ways): forward what comes
            while proc.returncode is None:
                for held in engine.wire_board.held(info.id):
                    assert held.sender is Sender.SERVER
                    engine.wire_board.forward(held.id)
                await asyncio.sleep(0.02)
            out, err = await proc.communicate()
            assert proc.returncode == 0, err
            assert b"<html" in out.lower()
            messages = engine.capture.messages
            assert any(m.held and m.summary.startswith("GET /index.html") for m in messages)
            assert any(m.held and m.sender is Sender.SERVER for m in messages)
            with pytest.raises(EngineError):
                engine.wire_board.forward(request.id)  # not held any more
        finally:
            await engine.shutdown()

    run(main)


@needs_curl
def test_drop_resets_the_connection_and_curl_reports_it() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await stepping_http(engine)
            proc = await curl(f"http://{info.address}/")
            request = (await held_soon(engine, info.id))[0]
            engine.wire_board.drop(request.id)
            _, err = await proc.communicate()
            assert proc.returncode in (52, 56), err  # 56: recv failure (reset)
            assert b"reset" in err.lower() or b"empty reply" in err.lower()
            notes = [m.summary for m in engine.capture.messages if m.injected]
            assert notes == [f"Wire dropped #{request.id} and reset the connection"]
            assert engine.wire_board.held(info.id) == []
        finally:
            await engine.shutdown()

    run(main)


@needs_curl
def test_edit_changes_what_the_server_gets_and_the_capture_keeps_both() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await stepping_http(engine)
            proc = await curl(f"http://{info.address}/index.html")
            request = (await held_soon(engine, info.id))[0]
            edited = request.data.replace(b"/index.html", b"/edited-by-the-class.html", 1)
            new_id = engine.wire_board.edit(request.id, edited)
            engine.wire_board.set_step(info.id, False)  # forwards what comes next at once
            out, err = await proc.communicate()
            assert proc.returncode == 0, err
            assert b"edited-by-the-class.html" in out  # the server's 404 names the path
            original = engine.capture.messages[request.id - 1]
            assert original.held and original.raw.startswith(b"GET /index.html")
            copy = engine.capture.messages[new_id - 1]
            assert copy.injected and copy.raw == edited
            assert copy.summary == (f"Edited #{request.id}: "
                                    "GET /edited-by-the-class.html HTTP/1.1")
        finally:
            await engine.shutdown()

    run(main)


def test_turning_step_mode_off_forwards_everything_held_in_order() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as echo, wired(echo.port, capture) as wire:
            wire.wire_id = "r1"
            wire.set_step(True)
            assert wire.patient(30.0) == STEP_TIMEOUT
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"first\n")
            await asyncio.sleep(0.2)
            writer.write(b"second\n")  # waits in the socket: the Wire stopped reading
            await asyncio.sleep(0.2)
            assert [m.data for m in wire.holds.messages()] == [b"first\n"]
            wire.set_step(False)
            assert await asyncio.wait_for(reader.readexactly(13), 5) == b"first\nsecond\n"
            assert wire.patient(30.0) == 30.0
            writer.close()
            await writer.wait_closed()

    run(main)


def test_a_udp_datagram_is_held_until_forwarded_and_lost_when_dropped() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        backend = await start_udp_echo({})
        capture = Capture()
        wire = UdpWire(capture, listen=("127.0.0.1", 0), target=backend.address)
        await wire.start()
        wire.set_step(True)
        got: asyncio.Queue[bytes] = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                got.put_nowait(data)

        client, _ = await loop.create_datagram_endpoint(Client, remote_addr=wire.address)
        try:
            client.sendto(b"one")
            client.sendto(b"two")
            while len(wire.holds) < 2:
                await asyncio.sleep(0.01)
            one, two = wire.holds.messages()
            wire.holds.drop(one.id)
            wire.holds.forward(two.id)
            while not wire.holds:  # the echo of "two" comes back, held
                await asyncio.sleep(0.01)
            wire.holds.forward_all()
            assert await asyncio.wait_for(got.get(), 5) == b"two"
            assert got.empty()
            assert any(m.injected and "dropped" in m.summary for m in capture.messages)
        finally:
            client.close()
            await wire.stop()
            await backend.close()

    run(main)


def test_a_lab_http_client_does_not_time_out_while_its_request_is_held() -> None:
    from lab.clients.http import HttpClient

    async def main() -> None:
        engine = Engine()
        # Made with the engine's Routes, the client takes the engine's patience.
        client = HttpClient(engine.routing.routes(engine.wire_board.patient), timeout=0.3)
        try:
            info = await stepping_http(engine)
            task = asyncio.create_task(client.request("GET", f"http://{info.address}/"))
            request = (await held_soon(engine, info.id))[0]
            await asyncio.sleep(0.6)  # twice the client's own timeout
            assert not task.done()
            engine.wire_board.forward(request.id)
            engine.wire_board.set_step(info.id, False)
            result = await asyncio.wait_for(task, 10)
            assert result.status == 200, result.error
        finally:
            await client.close()
            await engine.shutdown()

    run(main)


def test_step_mode_on_every_wire_reaches_a_server_added_later() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            engine.wire_board.set_step(None, True)
            info = await engine.add_server("tcp-echo", port=0)
            host, _, port = info.address.rpartition(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"hello\n")
            [request] = await held_soon(engine, None)
            assert request.node == info.id and request.data == b"hello\n"
            assert engine.wire_board.forward_all(None) == 1
            [echo] = await held_soon(engine, info.id)
            assert echo.sender is Sender.SERVER
            engine.wire_board.set_step(None, False)
            assert await asyncio.wait_for(reader.readexactly(6), 5) == b"hello\n"
            assert engine.wire_board.held() == [] and not engine.wire_board.stepping(info.id)
            writer.close()
            await writer.wait_closed()
        finally:
            await engine.shutdown()

    run(main)
