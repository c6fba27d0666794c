"""The .cslab file: saved and loaded whole, recorded as it happens, bad files named."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from lab.capture import Capture
from lab.model import EndpointNamed, NodeChanged, NodeInfo, NodeState, Piece, Sender, Transport
from lab.recorder import Recorder
from lab.store import (
    FORMAT_VERSION,
    Stored,
    StoreError,
    is_sqlite,
    load,
    save,
)


def _capture() -> Capture:
    """A capture with a TCP conversation (closed), an open UDP one and odd messages."""
    clock = iter(float(n) for n in range(100, 200))
    capture = Capture(clock=lambda: next(clock))
    tcp = capture.open(protocol="http", transport=Transport.TCP, client="127.0.0.1:5000",
                       server="127.0.0.1:8080", node="n1")
    capture.add(tcp, Piece(sender=Sender.CLIENT, time=101.5, summary="GET /",
                           raw=b"GET / HTTP/1.1\r\n\r\n", size=18,
                           fields=(("method", "GET"), ("header: A", "1"), ("header: A", "2"),
                                   ("n", 3), ("ok", True), ("none", None), ("f", 1.5))))
    capture.add(tcp, Piece(sender=Sender.SERVER, time=102.0, summary="200 OK",
                           raw=bytes(range(256)), size=100_000, truncated=True),
                injected=True)
    capture.add(tcp, Piece(sender=Sender.CLIENT, time=102.5, summary="junk", raw=b"\xff",
                           size=1, malformed=True))
    capture.close(tcp.id, note="closed by the client")
    udp = capture.open(protocol="dns", transport=Transport.UDP, client="[::1]:5353",
                       server="[::1]:5300", parent=tcp.id)
    capture.add(udp, Piece(sender=Sender.CLIENT, time=104.0, summary="A www.lab.test?",
                           raw=b"\x12\x34", size=2))
    return capture


def _stored(capture: Capture) -> Stored:
    node = NodeInfo(id="n1", kind="http", role="server", name="HTTP server #1",
                    state=NodeState.STOPPED, address="127.0.0.1:8080", detail="site")
    return Stored(messages=list(capture.messages), connections=dict(capture.connections),
                  nodes={"n1": node}, endpoints={"127.0.0.1:5000": "n2"})


def test_save_then_load_gives_back_every_field(tmp_path: Path) -> None:
    capture = _capture()
    path = tmp_path / "lesson.cslab"
    assert save(path, _stored(capture)) == 4
    assert is_sqlite(path) and not Path(f"{path}.part").exists()
    back = load(path)
    assert back.messages == capture.messages  # raw bytes, fields (order, repeats), flags
    assert back.connections == capture.connections
    assert list(back.connections) == ["c1", "c2"]
    assert back.nodes["n1"].name == "HTTP server #1"
    assert back.endpoints == {"127.0.0.1:5000": "n2"}
    assert back.meta["format"] == "cslab" and back.meta["version"] == str(FORMAT_VERSION)
    save(path, Stored())  # saving again replaces the file
    assert load(path).messages == []


def test_recorder_commits_while_running_and_leaves_one_file(tmp_path: Path) -> None:
    path = tmp_path / "live.cslab"
    capture = Capture()
    recorder = Recorder(path, interval=0.1)
    capture.subscribe(recorder)
    conn = capture.open(protocol="tcp-echo", transport=Transport.TCP, client="127.0.0.1:1",
                        server="127.0.0.1:2")
    for n in range(50):
        capture.add(conn, Piece(sender=Sender.CLIENT, time=time.time(), summary=str(n),
                                raw=b"x" * n, size=n))
    capture.publish(NodeChanged(NodeInfo(id="n1", kind="echo", role="client", name="Echo #1",
                                         state=NodeState.RUNNING)))
    capture.publish(EndpointNamed("127.0.0.1:1", "n1"))
    deadline = time.monotonic() + 5
    while len(load(path).messages) < 50:  # read by another connection, as after a kill
        assert time.monotonic() < deadline, "the recorder did not commit in time"
        time.sleep(0.05)
    capture.close(conn.id)
    recorder.close()
    recorder.close()  # twice is harmless
    back = load(path)
    assert back.messages == capture.messages
    assert back.connections[conn.id].closed is not None
    assert back.nodes["n1"].name == "Echo #1" and back.endpoints == {"127.0.0.1:1": "n1"}
    assert not Path(f"{path}-wal").exists()  # closed cleanly: a single file again


def test_recorder_never_overwrites_a_file(tmp_path: Path) -> None:
    path = tmp_path / "old.cslab"
    path.write_bytes(b"precious")
    with pytest.raises(StoreError, match="exists already"):
        Recorder(path)
    assert path.read_bytes() == b"precious"


def test_files_that_are_not_captures_are_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        load(tmp_path / "missing.cslab")
    text = tmp_path / "notes.cslab"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(StoreError, match=r"not a \.cslab capture \(not an SQLite file\)"):
        load(text)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
    with pytest.raises(StoreError, match="SQLite file but not a .cslab capture"):
        load(other)
    newer = tmp_path / "newer.cslab"
    save(newer, Stored())
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(StoreError, match="format version 99, newer"):
        load(newer)


def test_messages_load_knowing_their_node_parent_and_client(tmp_path: Path) -> None:
    capture = Capture()
    capture.name_endpoint("127.0.0.1:5000", "n1")
    control = capture.open(protocol="ftp", transport=Transport.TCP, client="127.0.0.1:5000",
                           server="127.0.0.1:2121", node="s1")
    data = capture.open(protocol="ftp-data", transport=Transport.TCP, client="127.0.0.1:5002",
                        server="127.0.0.1:40001", parent=control.id, node="s1")
    piece = Piece(sender=Sender.SERVER, time=1.0, summary="x", raw=b"x", size=1)
    messages = [capture.add(control, piece), capture.add(data, piece)]
    path = tmp_path / "now.cslab"
    save(path, Stored(messages=messages, connections=dict(capture.connections)))
    assert load(path).messages == messages
    # A version 1 file (no such columns) still reads; node and parent come
    # from the connections.
    with sqlite3.connect(path) as db:
        for column in ("node", "client_node", "parent"):
            db.execute(f"ALTER TABLE messages DROP COLUMN {column}")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    db.close()
    old = load(path).messages
    assert [(m.node, m.parent, m.client_node) for m in old] == [
        ("s1", None, None), ("s1", control.id, None)]
