"""Step mode and the echo client (it waits while a Wire of its engine steps, over UDP
and TCP; once step mode is off it waits its plain 2 s again), and the Wire's note
for held bytes that end no message (held, injected, and saying what it is)."""

from __future__ import annotations

import asyncio
import socket

from lab.clients.echo import REPLY_WAIT
from lab.engine import Engine
from lab.model import Sender
from lab.wire.tap import held_note
from tests.lab.helpers import run
from tests.lab.test_hold import held_soon


def test_the_echo_client_waits_while_its_datagram_is_held_and_gets_the_echo() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("udp-echo", port=0)
            client = await engine.add_client("echo", settings={
                "server": server.address, "transport": "udp"})
            engine.wire_board.set_step(server.id, True)
            task = asyncio.create_task(engine.client_act(client.id, "send", ["hello"]))
            request = (await held_soon(engine, server.id))[0]
            await asyncio.sleep(REPLY_WAIT + 0.5)  # past the plain wait
            assert not task.done()
            engine.wire_board.forward(request.id)
            echo = (await held_soon(engine, server.id))[0]
            assert echo.sender is Sender.SERVER
            engine.wire_board.forward(echo.id)
            outcome = await asyncio.wait_for(task, 10)
            assert outcome.ok and outcome.values["reply"] == "hello", outcome
            view = engine.client_state(client.id).view
            texts = [line.text for line in view.log]
            assert any(t.startswith("still waiting: step mode is on") for t in texts)
            assert [line.what for line in view.log][-1] == "came back"
        finally:
            await engine.shutdown()

    run(main)


def test_a_dropped_datagram_waits_until_step_mode_ends_then_the_plain_wait() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("udp-echo", port=0)
            client = await engine.add_client("echo", settings={
                "server": server.address, "transport": "udp"})
            engine.wire_board.set_step(server.id, True)
            task = asyncio.create_task(engine.client_act(client.id, "send", ["lost"]))
            request = (await held_soon(engine, server.id))[0]
            engine.wire_board.drop(request.id)  # a UDP datagram is lost
            await asyncio.sleep(REPLY_WAIT + 0.5)
            assert not task.done()  # step mode is still on: it may still come
            engine.wire_board.set_step(server.id, False)
            outcome = await asyncio.wait_for(task, REPLY_WAIT + 5)
            assert outcome.ok and outcome.shown == "nothing came back"
        finally:
            await engine.shutdown()

    run(main)


def test_held_bytes_that_end_no_message_are_captured_as_a_held_note() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("http", port=0)
            engine.wire_board.set_step(server.id, True)
            host, port = server.address.rsplit(":", 1)
            sock = socket.create_connection((host, int(port)))
            try:
                sock.sendall(b"GET / HTTP/1.1\r\n")  # not ended: no message yet
                held = (await held_soon(engine, server.id))[0]
                note = engine.capture.messages[held.id - 1]
                assert note.summary == held_note(16) == (
                    "16 bytes of a message, read and held by the Wire")
                assert note.held and note.injected and note.sender is Sender.CLIENT
                assert held.summary == note.summary and held.data == b"GET / HTTP/1.1\r\n"
            finally:
                sock.close()
        finally:
            await engine.shutdown()

    run(main)
