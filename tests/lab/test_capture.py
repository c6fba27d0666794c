"""The Capture: numbered records, a bus that survives bad readers, JSON Lines as in DESIGN.md."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from lab.capture import CONNECTION_RAW_BUDGET, SPENT_PREFIX, Capture
from lab.capture_lines import JsonLinesWriter
from lab.model import (
    CaptureCleared,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    MessageCaptured,
    Piece,
    Sender,
    Transport,
)
from lab.wire import TcpWire
from tests.lab.helpers import EchoServer, run

MESSAGE_KEYS = {
    "type", "time", "connection", "protocol", "sender", "client", "server",
    "summary", "size", "fields", "raw", "truncated", "malformed",
}
CONNECTION_KEYS = {"type", "time", "connection", "protocol", "client", "server", "parent"}


def _piece(sender: Sender, data: bytes, size: int | None = None) -> Piece:
    return Piece(sender=sender, time=1.0, summary="s", raw=data,
                 size=len(data) if size is None else size)


def _read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_json_lines_of_a_real_conversation_follow_the_design(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    seen_while_open: list[int] = []
    where: list[str] = []

    async def main() -> None:
        capture = Capture()
        with path.open("a", encoding="utf-8") as stream:
            capture.subscribe(JsonLinesWriter(stream))
            # After each event the file already holds it: flushed line by line.
            capture.subscribe(lambda e: seen_while_open.append(len(_read_lines(path))))
            async with EchoServer() as echo:
                wire = TcpWire(capture, listen=("127.0.0.1", 0), target=("127.0.0.1", echo.port),
                               protocol="tcp-echo")
                await wire.start()
                where.append(wire.public_address)
                reader, writer = await asyncio.open_connection(*wire.address)
                writer.write(b"hello\n")
                assert await reader.readexactly(6) == b"hello\n"
                writer.close()
                await writer.wait_closed()
                await wire.stop()

    run(main)
    records = _read_lines(path)
    assert seen_while_open == [1, 2, 3, 4]
    assert [r["type"] for r in records] == ["open", "message", "message", "close"]
    opened, ask, answer, closed = records
    for rec in (opened, closed):
        assert CONNECTION_KEYS <= set(rec)
        assert rec["parent"] is None
        assert rec["connection"] == "c1"
        assert rec["protocol"] == "tcp-echo"
    assert isinstance(opened["time"], float) and isinstance(closed["time"], float)
    assert opened["time"] <= ask["time"] <= answer["time"] <= closed["time"]
    for rec, sender in ((ask, "client"), (answer, "server")):
        assert MESSAGE_KEYS <= set(rec)
        assert rec["sender"] == sender
        assert rec["connection"] == "c1"
        assert rec["protocol"] == "tcp-echo"
        assert rec["summary"] == '"hello\\n" (6 bytes)'
        assert rec["size"] == 6
        assert rec["fields"] == {"length": 6}
        assert base64.b64decode(str(rec["raw"])) == b"hello\n"
        assert rec["truncated"] is False and rec["malformed"] is False
        assert rec["client"] == opened["client"] and rec["server"] == opened["server"]
    assert opened["server"] == where[0] != "127.0.0.1:0"
    assert str(opened["client"]).startswith("127.0.0.1:")


def test_messages_are_numbered_and_bound_to_their_connection() -> None:
    capture = Capture(clock=lambda: 42.0)
    a = capture.open(protocol="raw", transport=Transport.TCP, client="c:1", server="s:2")
    b = capture.open(protocol="raw", transport=Transport.UDP, client="c:3", server="s:2",
                     parent=a.id)
    m1 = capture.add(a, _piece(Sender.CLIENT, b"one"))
    m2 = capture.add(b, _piece(Sender.SERVER, b"two"))
    assert (a.id, b.id) == ("c1", "c2")
    assert (m1.id, m2.id) == (1, 2)
    assert (m2.connection, m2.source, m2.destination) == ("c2", "s:2", "c:3")
    assert capture.connections["c2"].parent == "c1"
    closed = capture.close(a.id, note="bye")
    assert closed.closed == 42.0 and closed.note == "bye"
    assert capture.close(a.id, note="again") == closed  # closing twice changes nothing


def test_a_connection_past_its_raw_budget_keeps_only_prefixes() -> None:
    capture = Capture()
    conn = capture.open(protocol="raw", transport=Transport.TCP, client="c:1", server="s:2")
    other = capture.open(protocol="raw", transport=Transport.TCP, client="c:3", server="s:2")
    chunk = bytes(range(256)) * 256  # 64 KiB
    for _ in range(CONNECTION_RAW_BUDGET // len(chunk)):
        kept = capture.add(conn, _piece(Sender.CLIENT, chunk))
        assert kept.raw == chunk and not kept.truncated
    past = capture.add(conn, _piece(Sender.CLIENT, chunk))
    assert past.raw == chunk[:SPENT_PREFIX]
    assert past.size == len(chunk)
    assert past.truncated
    small = capture.add(conn, _piece(Sender.SERVER, b"ok"))
    assert small.raw == b"ok" and not small.truncated
    fresh = capture.add(other, _piece(Sender.CLIENT, chunk))  # each connection has its own
    assert fresh.raw == chunk and not fresh.truncated


def test_a_raising_subscriber_does_not_stop_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    capture = Capture()
    before: list[Event] = []
    after: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("reader bug")

    capture.subscribe(before.append)
    capture.subscribe(broken)
    capture.subscribe(after.append)
    conn = capture.open(protocol="raw", transport=Transport.TCP, client="c:1", server="s:2")
    capture.add(conn, _piece(Sender.CLIENT, b"x"))
    capture.close(conn.id)
    kinds = [type(e) for e in after]
    assert kinds == [ConnectionOpened, MessageCaptured, ConnectionClosed]
    assert len(before) == 3
    assert capture.messages[0].raw == b"x"
    assert "reader bug" in capsys.readouterr().err


def test_unsubscribe_stops_delivery() -> None:
    capture = Capture()
    got: list[Event] = []
    unsubscribe = capture.subscribe(got.append)
    capture.open(protocol="raw", transport=Transport.TCP, client="c:1", server="s:2")
    unsubscribe()
    unsubscribe()  # twice is harmless
    capture.open(protocol="raw", transport=Transport.TCP, client="c:1", server="s:2")
    assert len(got) == 1


def test_clear_empties_the_capture_and_numbers_messages_from_one_again() -> None:
    capture = Capture()
    got: list[Event] = []
    capture.subscribe(got.append)
    done = capture.open(protocol="raw", transport=Transport.TCP, client="c:1", server="s:2")
    live = capture.open(protocol="raw", transport=Transport.TCP, client="c:3", server="s:2")
    capture.add(done, _piece(Sender.CLIENT, b"one"))
    capture.add(live, _piece(Sender.CLIENT, b"two"))
    capture.close(done.id)
    got.clear()
    capture.clear()
    # Readers hear the clearing, then the connection still open (it may carry more).
    assert [type(e) for e in got] == [CaptureCleared, ConnectionOpened]
    assert isinstance(got[1], ConnectionOpened) and got[1].connection.id == live.id
    assert capture.messages == [] and list(capture.connections) == [live.id]
    assert capture.close(done.id).closed is not None  # closed again: no error, no event
    assert len(got) == 2
    again = capture.add(live, _piece(Sender.SERVER, b"three"))
    new = capture.open(protocol="raw", transport=Transport.TCP, client="c:5", server="s:2")
    first = capture.add(new, _piece(Sender.CLIENT, b"four"))
    assert (again.id, first.id) == (1, 2)  # a message's id is its place, from 1
    assert capture.messages[first.id - 1] is first
    assert new.id == "c3"  # connection ids go on: none taken twice
    assert capture.close(live.id).closed is not None
    capture.close(new.id)
    capture.clear()
    assert capture.messages == [] and capture.connections == {}


def test_a_message_record_says_where_it_belongs_only_when_known() -> None:
    from lab.capture_lines import message_record
    from lab.export import stored_from_records

    capture = Capture()
    capture.name_endpoint("127.0.0.1:5000", "n1")
    control = capture.open(protocol="ftp", transport=Transport.TCP, client="127.0.0.1:5000",
                           server="127.0.0.1:2121", node="s1")
    data = capture.open(protocol="ftp-data", transport=Transport.TCP, client="127.0.0.1:5002",
                        server="127.0.0.1:40001", parent=control.id, node="s1")
    bare = capture.open(protocol="raw", transport=Transport.TCP, client="1.2.3.4:5",
                        server="5.6.7.8:9")
    messages = [capture.add(conn, _piece(Sender.CLIENT, b"x")) for conn in (control, data, bare)]
    records = [message_record(m) for m in messages]
    assert {k: records[1][k] for k in ("node", "client_node", "parent")} == {
        "node": "s1", "client_node": "n1", "parent": control.id}
    assert "parent" not in records[0] and records[0]["node"] == "s1"
    assert not {"node", "client_node", "parent"} & set(records[2])
    assert stored_from_records(records).messages == messages
