"""Replay (lab/replay.py through Engine.replay): real servers and clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
import smtplib
import socket
from pathlib import Path

import pytest

from lab.capture import Capture
from lab.engine import Engine, EngineError
from lab.model import RAW_LIMIT, Message, Piece, Sender, Transport
from tests.lab.helpers import EchoServer, run
from tests.lab.test_http_server import serving
from tests.lab.test_mail_servers import MESSAGE, mail_lab
from tests.lab.test_ws_chat import chat_lab, until


def conversation(engine: Engine, conn: str) -> list[Message]:
    return [m for m in engine.capture.messages if m.connection == conn]


def summaries(engine: Engine, conn: str) -> list[tuple[Sender, str]]:
    return [(m.sender, m.summary) for m in conversation(engine, conn)]


async def settle(engine: Engine, conn: str) -> None:
    """Wait until the Wire has closed connection ``conn`` (its last replies are in)."""
    for _ in range(200):
        if engine.capture.connections[conn].closed is not None:
            return
        await asyncio.sleep(0.01)


def test_replaying_a_curl_get_sends_the_same_request_and_gets_200_again(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (engine, port):
            url = f"http://127.0.0.1:{port}"
            curl = await asyncio.create_subprocess_exec(
                "curl", "-sS", "-o", "/dev/null", f"{url}/", f"{url}/style.css")
            assert await curl.wait() == 0
            (original,) = engine.capture.connections
            await settle(engine, original)
            sent = [m for m in conversation(engine, original) if m.sender is Sender.CLIENT]

            result = await engine.replay(original, [sent[0].id])  # the first GET only
            assert result.error == "" and result.messages == 1
            assert result.connection is not None and result.connection != original
            await settle(engine, result.connection)
            again = conversation(engine, result.connection)
            assert [m.raw for m in again if m.sender is Sender.CLIENT] == [sent[0].raw]
            assert summaries(engine, result.connection) == [
                (Sender.CLIENT, "GET /"), (Sender.SERVER, "200 OK")]
            assert again[0].server == f"127.0.0.1:{port}"  # through the server's Wire
            assert result.local == again[0].client
            assert result.sent == len(sent[0].raw) and result.received == sum(
                len(m.raw) for m in again if m.sender is Sender.SERVER)

            whole = await engine.replay(original)  # both requests, each after its answer
            assert whole.connection is not None
            await settle(engine, whole.connection)
            assert summaries(engine, whole.connection) == summaries(engine, original) == [
                (Sender.CLIENT, "GET /"), (Sender.SERVER, "200 OK"),
                (Sender.CLIENT, "GET /style.css"), (Sender.SERVER, "200 OK")]
            assert "Replay of c1 as" in whole.text and "sent 2 messages" in whole.text

    run(main)


def test_replaying_an_smtp_conversation_delivers_the_mail_again(tmp_path: Path) -> None:
    async def main() -> None:
        async with mail_lab(tmp_path) as lab:
            def send() -> None:
                with smtplib.SMTP("127.0.0.1", lab.smtp, timeout=5) as client:
                    assert client.sendmail("zed@example.org", ["ann@lab.test"], MESSAGE) == {}

            await asyncio.to_thread(send)
            assert len(lab.store.list("ann")) == 1
            (original,) = lab.engine.capture.connections
            await settle(lab.engine, original)

            result = await lab.engine.replay(original)
            assert result.error == "" and result.connection is not None
            await settle(lab.engine, result.connection)
            assert len(lab.store.list("ann")) == 2  # the server stored a second copy
            first = summaries(lab.engine, original)
            again = summaries(lab.engine, result.connection)
            assert again[0][0] is Sender.SERVER and again[0][1].startswith("220 ")  # greeting
            assert [s for s in again if s[0] is Sender.CLIENT] == [
                s for s in first if s[0] is Sender.CLIENT]
            assert len(again) == len(first)  # every command answered, in step

    run(main)


def test_replaying_udp_echo_datagrams_makes_a_new_peer(tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await engine.add_server("udp-echo", port=0)
            port = int(info.address.rpartition(":")[2])

            def send() -> None:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.settimeout(5)
                    for text in (b"one", b"two"):
                        sock.sendto(text, ("127.0.0.1", port))
                        assert sock.recv(100) == text

            await asyncio.to_thread(send)
            (original,) = engine.capture.connections
            result = await engine.replay(original)
            assert result.error == "" and result.connection not in (None, original)
            assert result.connection is not None
            assert engine.capture.connections[result.connection].transport is Transport.UDP
            again = conversation(engine, result.connection)
            assert [(m.sender, m.raw) for m in again] == [
                (Sender.CLIENT, b"one"), (Sender.SERVER, b"one"),
                (Sender.CLIENT, b"two"), (Sender.SERVER, b"two")]
            assert (result.sent, result.received) == (6, 6)
        finally:
            await engine.shutdown()

    run(main)


def _capture_with(*pieces: Piece, parent: str | None = None) -> Capture:
    capture = Capture()
    conn = capture.open(protocol="http", transport=Transport.TCP, client="127.0.0.1:5000",
                        server="127.0.0.1:8080", parent=parent)
    for piece in pieces:
        capture.add(conn, piece)
    return capture


def _piece(sender: Sender, raw: bytes, truncated: bool = False) -> Piece:
    return Piece(sender=sender, time=0.0, summary=raw[:20].decode(), raw=raw[:RAW_LIMIT],
                 size=len(raw), truncated=truncated)


def test_a_truncated_message_is_refused_with_a_clear_error() -> None:
    big = b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100_000
    engine = Engine(_capture_with(_piece(Sender.CLIENT, big, truncated=True)))
    with pytest.raises(EngineError, match=r"#1 cannot be re-sent: the capture kept only "
                                          r"its first 65,536 of 100,043 bytes"):
        run(lambda: engine.replay("c1"))


@pytest.mark.parametrize(("ids", "parent", "error"), [
    ([2], None, r"#2 is the server's"),
    ([7], None, r"#7 is not a message of c1"),
    (None, "c0", r"c1 is an FTP data connection: replay its control connection c0"),
    (None, None, r"the server of c1 \(127.0.0.1:8080\) is not running in the lab any more"),
])
def test_what_cannot_be_replayed_says_why(ids: list[int] | None, parent: str | None,
                                          error: str) -> None:
    capture = _capture_with(_piece(Sender.CLIENT, b"GET / HTTP/1.1\r\n\r\n"),
                            _piece(Sender.SERVER, b"HTTP/1.1 200 OK\r\n\r\n"), parent=parent)
    with pytest.raises(EngineError, match=error):
        run(lambda: Engine(capture).replay("c1", ids))
    with pytest.raises(EngineError, match="no connection 'c9'"):
        run(lambda: Engine(capture).replay("c9"))


def test_a_stopped_server_fails_the_replay_and_a_restarted_one_takes_it(tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await engine.add_server("tcp-echo", port=0)
            port = int(info.address.rpartition(":")[2])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello\n")
            assert await reader.readexactly(6) == b"hello\n"
            writer.close()
            await writer.wait_closed()
            await engine.stop_server(info.id)
            with pytest.raises(EngineError, match="not running in the lab any more"):
                await engine.replay("c1")
            await engine.start_server(info.id, port=0)  # on another port now
            result = await engine.replay("c1")
            assert result.error == "" and result.received == 6
        finally:
            await engine.shutdown()

    run(main)


def test_replaying_to_an_outside_server_goes_through_its_outbound_wire() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            async with EchoServer() as outside:
                client = await engine.add_client("echo")
                await engine.client_act(client.id, "connect",
                                        settings={"server": f"127.0.0.1:{outside.port}"})
                sent = await engine.client_act(client.id, "send", ["70696e670a"],
                                               settings={"hex": "true"})
                assert sent.values["reply"] == "ping\n"
                await engine.client_close(client.id)
                (original,) = engine.capture.connections
                result = await engine.replay(original)
                assert result.error == "" and result.received == 5
                assert result.connection is not None
                again = engine.capture.connections[result.connection]
                assert again.server == engine.capture.connections[original].server
                assert [m.raw for m in conversation(engine, result.connection)] == [
                    b"ping\n", b"ping\n"]
        finally:
            await engine.shutdown()

    run(main)


def test_replaying_a_websocket_chat_says_the_line_in_the_room_again() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            ana = await lab.client("ana")
            await ana.say("hi")
            await until(lambda: len(lab.frames('TEXT "ana: hi" (7 bytes)')) == 1, "the echo")
            await ana.leave()
            (original,) = lab.engine.capture.connections
            await settle(lab.engine, original)
            result = await lab.engine.replay(original)
            assert result.error == "" and result.connection is not None
            await until(lambda: len(lab.frames('TEXT "ana: hi" (7 bytes)')) == 2, "again")
            assert lab.backend.messages == 2
            again = summaries(lab.engine, result.connection)
            assert again[:2] == [(Sender.CLIENT, "GET /?name=ana"),
                                 (Sender.SERVER, "101 Switching Protocols")]
            assert [s for s in again if s[0] is Sender.CLIENT] == [
                s for s in summaries(lab.engine, original) if s[0] is Sender.CLIENT]

    run(main)
