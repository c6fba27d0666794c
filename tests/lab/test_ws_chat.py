"""The WebSocket chat server and the lab's chat clients through the engine, with a
plain websockets client and raw sockets beside them: real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.client import connect

from lab.clients.ws import ChatClient, ChatError, ChatEvent, ChatView
from lab.engine import Engine
from lab.model import EndpointNamed, Event, Message, MessageCaptured, Sender
from lab.servers.ws import ChatBackend, RoomEvent, name_from_path, start_ws
from tests.lab.helpers import run


async def until(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


@dataclass
class ChatLab:
    engine: Engine
    port: int
    backend: ChatBackend
    events: list[RoomEvent] = field(default_factory=list)

    async def client(self, name: str) -> ChatClient:
        info = await self.engine.add_client("ws")
        chat = self.engine.client_object(info.id)
        assert isinstance(chat, ChatClient)
        await chat.connect("127.0.0.1", self.port, name)
        return chat

    def frames(self, summary: str) -> list[Message]:
        return [m for m in self.engine.capture.messages if m.summary == summary]


@asynccontextmanager
async def chat_lab(**options: str) -> AsyncIterator[ChatLab]:
    engine = Engine()
    try:
        info = await engine.add_server("ws", port=0, options=options)
        backend = engine.server_backend(info.id)
        assert isinstance(backend, ChatBackend)
        lab = ChatLab(engine, int(info.address.rpartition(":")[2]), backend)
        stop = backend.watch(lab.events.append)
        yield lab
        stop()
    finally:
        await engine.shutdown()


def test_lab_clients_and_a_plain_websockets_client_all_get_the_broadcast() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            ana = await lab.client("ana")
            bob = await lab.client("bob")
            async with connect(f"ws://127.0.0.1:{lab.port}/?name=zoe", proxy=None,
                               compression=None) as zoe:
                assert await zoe.recv() == "* here now: ana, bob, zoe"
                assert await zoe.recv() == "* zoe joined"
                await until(lambda: lab.backend.members() == ["ana", "bob", "zoe"], "3 in")
                await ana.say("hello, room")
                assert await zoe.recv() == "ana: hello, room"
                await zoe.send("hi ana")
                for chat in (ana, bob):
                    await until(lambda c=chat: "zoe: hi ana" in c.lines, "zoe's line")  # type: ignore[misc]
            for chat in (ana, bob):
                await until(lambda c=chat: "* zoe left" in c.lines, "zoe's leave notice")  # type: ignore[misc]
            assert ana.lines == ["* here now: ana", "* ana joined", "* bob joined",
                                 "* zoe joined", "ana: hello, room", "zoe: hi ana",
                                 "* zoe left"]
            assert bob.lines[0] == "* here now: ana, bob"
            assert bob.lines[-3:] == ["ana: hello, room", "zoe: hi ana", "* zoe left"]
            assert lab.backend.members() == ["ana", "bob"] and lab.backend.messages == 2
            await bob.leave()
            await until(lambda: "* bob left" in ana.lines, "bob's leave notice")
            assert bob.ended == ChatEvent(kind="closed", text="you left the room", code=1000,
                                          reason="bye", session=1)
            assert [(e.action, e.name, e.members) for e in lab.events] == [
                ("joined", "ana", ("ana",)), ("joined", "bob", ("ana", "bob")),
                ("joined", "zoe", ("ana", "bob", "zoe")),
                ("message", "ana", ("ana", "bob", "zoe")),
                ("message", "zoe", ("ana", "bob", "zoe")),
                ("left", "zoe", ("ana", "bob")), ("left", "bob", ("ana",))]
            assert lab.events[3].line == "ana: hello, room" and lab.events[4].messages == 2

    run(main)


def test_the_capture_holds_the_upgrade_and_the_frames() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            events: list[Event] = []
            lab.engine.capture.subscribe(events.append)
            ana = await lab.client("ana")
            await ana.say("hi")
            await until(lambda: len(lab.frames('TEXT "ana: hi" (7 bytes)')) == 1, "the echo")
            named = [e for e in events if isinstance(e, EndpointNamed)]
            assert [e.address for e in named] == [ana.local]
            first = next(e for e in events if isinstance(e, MessageCaptured))
            assert events.index(named[0]) < events.index(first)  # named before the upgrade
            request, switch, *frames = lab.engine.capture.messages
            assert all(m.protocol == "websocket" for m in lab.engine.capture.messages)
            assert (request.sender, request.summary) == (Sender.CLIENT, "GET /?name=ana")
            fields = dict(request.fields)
            assert fields["header: Upgrade"] == "websocket"
            assert "header: Sec-WebSocket-Key" in fields
            assert "header: Sec-WebSocket-Extensions" not in fields  # compression is off
            assert (switch.sender, switch.summary) == (Sender.SERVER, "101 Switching Protocols")
            assert dict(switch.fields)["request"] == "GET /?name=ana"
            [said] = lab.frames('TEXT "hi" (2 bytes)')
            said_fields = dict(said.fields)
            assert said.sender is Sender.CLIENT and said.client == ana.local
            assert said_fields["masked"] is True and len(str(said_fields["masking key"])) == 8
            assert (said_fields["opcode"], said_fields["fin"], said_fields["payload length"],
                    said_fields["payload text"]) == ("TEXT", True, 2, "hi")
            [echo] = lab.frames('TEXT "ana: hi" (7 bytes)')
            assert echo.sender is Sender.SERVER and dict(echo.fields)["masked"] is False
            assert "masking key" not in dict(echo.fields)
            assert not any(m.malformed for m in lab.engine.capture.messages)
            assert [m.summary for m in frames[:2]] == ['TEXT "* here now: ana" (15 bytes)',
                                                       'TEXT "* ana joined" (12 bytes)']

    run(main)


def test_a_message_over_the_size_limit_closes_with_1009() -> None:
    async def main() -> None:
        async with chat_lab(max_size="1000") as lab:
            ana = await lab.client("ana")
            bob = await lab.client("bob")
            await bob.say("b" * 1001)
            await until(lambda: bob.ended is not None, "bob's connection to end")
            assert bob.ended is not None and bob.ended.code == 1009
            assert bob.ended.text.startswith("the server closed the connection: 1009 "
                                             "(message too big): ")
            assert "1000 bytes" in bob.ended.reason
            await until(lambda: "* bob left" in ana.lines, "bob's leave notice")
            assert not any(line.startswith("bob: ") for line in ana.lines)
            [close] = [m for m in lab.engine.capture.messages
                       if m.sender is Sender.SERVER and m.summary.startswith("CLOSE 1009")]
            assert dict(close.fields)["close meaning"] == "message too big"
            with pytest.raises(ChatError, match="not in a room: the server closed"):
                await bob.say("again")
            await ana.say("b" * 1000)  # at the limit is fine
            await until(lambda: f"ana: {'b' * 1000}" in ana.lines, "a message at the limit")

    run(main)


def test_a_binary_message_closes_with_1003() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            async with connect(f"ws://127.0.0.1:{lab.port}/?name=bin", proxy=None,
                               compression=None) as raw:
                await raw.send(b"\x00\x01")
                await raw.wait_closed()
                assert raw.close_code == 1003
                assert raw.close_reason == "this chat takes text messages only"

    run(main)


def test_a_malformed_upgrade_gets_a_400_and_the_server_serves_on() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            reader, writer = await asyncio.open_connection("127.0.0.1", lab.port)
            writer.write(b"GET /?name=eve HTTP/1.1\r\nHost: lab.test\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
            reply = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
            assert b"missing Sec-WebSocket-Key header" in reply
            reader, writer = await asyncio.open_connection("127.0.0.1", lab.port)
            writer.write(b"\x16\x03\x01garbage\r\n\r\n")
            assert await asyncio.wait_for(reader.read(), 5) == b""  # just closed
            writer.close()
            ana = await lab.client("ana")  # still serving
            await ana.say("still here")
            await until(lambda: "ana: still here" in ana.lines, "a new client served")
            await until(lambda: any(m.malformed for m in lab.engine.capture.messages),
                        "the garbage captured")
            summaries = [m.summary for m in lab.engine.capture.messages]
            assert summaries[:2] == ["GET /?name=eve", "400 Bad Request"]
            [bad] = [m for m in lab.engine.capture.messages if m.malformed]
            assert bad.summary.startswith("malformed request: ") and bad.raw.startswith(b"\x16")
            assert lab.backend.members() == ["ana"]
            assert "eve" not in " ".join(e.name for e in lab.events)

    run(main)


def test_the_server_pings_and_the_client_answers() -> None:
    async def main() -> None:
        # a ping every 0.1 s, but a long wait for each pong: a loaded machine must
        # not fail the test by answering late
        async with chat_lab(ping_interval="0.1", ping_timeout="10") as lab:
            ana = await lab.client("ana")
            await until(lambda: any(m.summary.startswith("PONG") and m.sender is Sender.CLIENT
                                    for m in lab.engine.capture.messages), "a PONG")
            ping = next(m for m in lab.engine.capture.messages if m.summary.startswith("PING"))
            pong = next(m for m in lab.engine.capture.messages if m.summary.startswith("PONG"))
            assert ping.sender is Sender.SERVER and ping.id < pong.id
            assert dict(ping.fields)["payload hex"] == dict(pong.fields)["payload hex"]
            assert ana.connected

    run(main)


def test_stopping_the_server_closes_every_client_with_1001() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            ana = await lab.client("ana")
            bob = await lab.client("bob")
            server = lab.engine.running_servers()[0]
            await lab.engine.stop_server(server.id)
            for chat in (ana, bob):
                await until(lambda c=chat: c.ended is not None, "the end")  # type: ignore[misc]
                assert chat.ended == ChatEvent(
                    kind="closed", code=1001, reason="server going away", session=1,
                    text="the server closed the connection: 1001 (going away): server going away")
            assert len(lab.frames('CLOSE 1001 (going away) "server going away"')) == 4

    run(main)


def test_names_are_tidied_and_made_unique() -> None:
    assert name_from_path("/?name=ana") == "ana"
    assert name_from_path("/chat?name=%20Ana%0AMaria%20") == "Ana Maria"
    assert name_from_path("/") == ""
    assert len(name_from_path("/?name=" + "x" * 100)) == 24
    # U+202E would turn the rest of a line around; a zero-width U+200B would let two
    # members look alike
    assert name_from_path("/?name=%E2%80%AEana%E2%80%8B") == "ana"
    assert name_from_path("/?name=%3Cb%3Ex%3C/b%3E%E2%80%AE%00y") == "<b>x</b> y"

    async def main() -> None:
        async with chat_lab() as lab:
            first = await lab.client("ana")
            await lab.client("ana")
            await lab.client("")
            await until(lambda: len(lab.backend.members()) == 3, "three in")
            assert lab.backend.members() == ["ana", "ana (2)", "guest-1"]
            await until(lambda: "* guest-1 joined" in first.lines, "the guest")

    run(main)


async def direct_route(host: str, port: int) -> tuple[str, int]:
    return host, port


def test_errors_a_user_can_act_on() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            chat = ChatClient(lab.engine.route)
            with pytest.raises(ChatError, match="not in a room: press Connect first"):
                await chat.say("hi")
            http = await lab.engine.add_server("http", port=0)
            http_port = int(http.address.rpartition(":")[2])
            with pytest.raises(ChatError, match=f"127.0.0.1:{http_port} refused to open a "
                                                "WebSocket: HTTP 200 OK"):
                await chat.connect("127.0.0.1", http_port, "ana")
            await lab.engine.stop_server(http.id)  # now reached through an outbound Wire
            with pytest.raises(ChatError, match=f"127.0.0.1:{http_port} closed the connection "
                                                "without answering the upgrade: is a "
                                                "WebSocket server running there"):
                await chat.connect("127.0.0.1", http_port, "ana")
            direct = ChatClient(lambda transport, host, port, protocol: direct_route(host, port))
            with pytest.raises(ChatError, match=f"cannot connect to 127.0.0.1:{http_port}: "
                                                "connection refused"):
                await direct.connect("127.0.0.1", http_port, "ana")
            assert not chat.connected
        with pytest.raises(ValueError, match="max_size must be a whole number of bytes"):
            await start_ws({"max_size": "lots"})

    run(main)


def test_chat_actions_show_the_room_as_the_client_state() -> None:
    """As lesson 7 runs it: ``say`` joins first under the client's own name (no nick
    set) or its nick; lines the room pushes later show in the state's ChatView."""

    async def main() -> None:
        async with chat_lab() as lab:
            server = f"127.0.0.1:{lab.port}"
            engine = lab.engine
            bob = await engine.add_client("ws", name="Bob", settings={"server": server})
            ann = await engine.add_client("ws", name="Ann",
                                          settings={"server": server, "nick": "annie"})
            said = await engine.client_act(bob.id, "say", ["hi,", "I'm", "here"])
            assert said.ok and "Bob: hi, I'm here" in said.values["text"]
            assert engine.client_state(bob.id).setting("nick") == ""
            joined = await engine.client_act(ann.id, "connect")
            assert joined.ok and joined.shown == "joined as annie"
            await engine.client_act(ann.id, "say", ["hello", "Bob"])

            def bob_view() -> ChatView:
                view = engine.client_state(bob.id).view
                assert isinstance(view, ChatView)
                return view

            await until(lambda: "annie: hello Bob" in bob_view().lines, "pushed to Bob")
            view = bob_view()
            assert view.connected and view.server == server and view.session == 1
            assert view.received == len(view.lines) and view.lines[0] == "* here now: Bob"
            left = await engine.client_act(ann.id, "leave")
            assert left.ok
            ann_view = engine.client_state(ann.id).view
            assert not ann_view.connected and ann_view.ended == "you left the room"
            assert ann_view.code == 1000
            await until(lambda: "* annie left" in bob_view().lines, "Ann's leave pushed")

    run(main)
