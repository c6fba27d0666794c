"""Import and export: JSON Lines and .cslab round-trip a real capture unchanged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lab.capture import Capture
from lab.capture_lines import JsonLinesWriter
from lab.clients.http import HttpClient
from lab.engine import Engine
from lab.export import (
    ExportError,
    capture_records,
    export,
    load_capture,
    stored_from_records,
    stored_records,
    write,
    write_stored,
)
from lab.model import Connection, Piece, Sender, Transport
from lab.store import Stored
from tests.lab.helpers import run


def http_capture(tmp_path: Path, live: Path | None = None) -> Capture:
    """A real HTTP exchange (three requests, one with a body) through the lab."""

    async def main() -> Capture:
        engine = Engine()
        stream = open(live, "w", encoding="utf-8") if live else None  # noqa: SIM115
        if stream is not None:
            engine.capture.subscribe(JsonLinesWriter(stream))
        server = await engine.add_server("http", port=0,
                                         options={"db": str(tmp_path / "notes.sqlite3")})
        client = engine.client_object((await engine.add_client("http")).id)
        assert isinstance(client, HttpClient)
        for method, url, body in [("GET", "/", None), ("POST", "/api/notes", b'{"title": "x"}'),
                                  ("GET", "/nope", None)]:
            headers = [("Content-Type", "application/json")] if body else []
            result = await client.request(method, f"http://{server.address}{url}", headers, body)
            assert result.ok, result.error
        await engine.shutdown()
        if stream is not None:
            stream.close()
        return engine.capture

    return run(main)


def plain(capture: Capture) -> dict[str, Connection]:
    """The connections as JSON Lines carries them (no node, no note)."""
    return {key: replace(c, node=None, note="") for key, c in capture.connections.items()}


def test_json_lines_export_import_export_is_identical(tmp_path: Path) -> None:
    capture = http_capture(tmp_path)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    write(capture_records(capture), "jsonl", first)
    imported = load_capture(first)
    assert [m.raw for m in imported.messages] == [m.raw for m in capture.messages]
    assert [m.summary for m in imported.messages] == [m.summary for m in capture.messages]
    assert imported.connections == plain(capture)
    write_stored(imported, "jsonl", second)
    assert second.read_bytes() == first.read_bytes()


def test_a_live_json_lines_file_imports_as_the_capture(tmp_path: Path) -> None:
    live = tmp_path / "live.jsonl"
    capture = http_capture(tmp_path, live)
    imported = load_capture(live)  # written as it happened, in event order
    assert imported.messages == capture.messages
    assert imported.connections == plain(capture)


def test_cslab_round_trip_and_export_detects_sqlite_by_header(tmp_path: Path) -> None:
    capture = http_capture(tmp_path)
    first = tmp_path / "first.jsonl"
    write(capture_records(capture), "jsonl", first)
    saved = tmp_path / "capture.data"  # any name: the header says what it is
    assert export(first, "cslab", saved) == len(capture.messages)
    back = load_capture(saved)
    assert back.messages == capture.messages and back.connections == plain(capture)
    again = tmp_path / "again.jsonl"
    export(saved, "jsonl", again)
    assert again.read_bytes() == first.read_bytes()
    assert export(saved, "har", tmp_path / "out.har") == 3
    assert export(saved, "pcapng", tmp_path / "out.pcapng") > 3 * 2


def test_a_held_message_stays_held_through_json_lines_and_cslab(tmp_path: Path) -> None:
    capture = Capture()
    conn = capture.open(protocol="http", transport=Transport.TCP,
                        client="127.0.0.1:5000", server="127.0.0.1:8080")
    piece = Piece(sender=Sender.CLIENT, time=capture.clock(), summary="GET /",
                  raw=b"GET / HTTP/1.1\r\n\r\n", size=18)
    held = capture.add(conn, piece, held=True)
    capture.add(conn, replace(piece, summary="GET /again"))
    first = tmp_path / "first.jsonl"
    write(capture_records(capture), "jsonl", first)
    imported = load_capture(first)
    assert [m.held for m in imported.messages] == [True, False]
    assert imported.messages == capture.messages and held.held
    saved = tmp_path / "held.cslab"
    export(first, "cslab", saved)
    assert load_capture(saved).messages == capture.messages


def test_bad_records_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="record 2"):
        stored_from_records([{"type": "open", "connection": "c1", "protocol": "raw",
                              "client": "a:1", "server": "b:2", "time": 1.0},
                             {"type": "message", "connection": "c1", "time": "soon"}])
    stray = stored_from_records([{"type": "message", "connection": "c9", "time": 1.0,
                                  "protocol": "dns", "sender": "client", "raw": "AA=="}])
    assert stray.connections["c9"].transport.value == "udp"
    assert stored_records(Stored()) == []
    text = tmp_path / "x.cslab"
    text.write_bytes(b"SQLite format 3\x00 but broken")
    with pytest.raises(ExportError, match="not a .cslab capture"):
        load_capture(text)
    with pytest.raises(ExportError, match="unknown format"):
        write([], "pcap", tmp_path / "x")
