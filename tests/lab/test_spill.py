"""The capture that spills to disk (lab/spill.py): a real HTTP server behind its Wire,
curl as the client, and a capture whose window is small, so that most of what curl
did lives only in the capture's store while the lab runs."""

from __future__ import annotations

import asyncio
import json
import os
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from lab.capture import Capture
from lab.commands import export_capture, save_capture
from lab.engine import Engine
from lab.export import export
from lab.model import Connection, Message, Sender
from lab.spill import MessageLog, remove_stale
from lab.store import Stored, load, save
from tests.lab.helpers import run
from tests.lab.test_http_server import make_site

WINDOW = 40
REQUESTS = 150  # 300 messages: most of them older than the window


@pytest.fixture(autouse=True)
def spill_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "spill"
    monkeypatch.setenv("CSLAB_SPILL_DIR", str(folder))
    return folder


@asynccontextmanager
async def small_window(tmp: Path) -> AsyncIterator[tuple[Engine, int]]:
    engine = Engine(Capture(window=WINDOW))
    options = {"root": str(make_site(tmp)), "db": str(tmp / "notes.sqlite3")}
    info = await engine.add_server("http", port=0, options=options)
    try:
        yield engine, int(info.address.rpartition(":")[2])
    finally:
        await engine.shutdown()
        engine.capture.finish()  # as the app and cslab do when they end


async def curl(port: int, count: int, path: str = "/style.css") -> None:
    """``count`` GETs on one keep-alive connection, as a user's curl sends them."""
    urls = [f"http://127.0.0.1:{port}{path}?n={n}" for n in range(count)]
    process = await asyncio.create_subprocess_exec("curl", "-sS", *urls,
                                                   stdout=asyncio.subprocess.DEVNULL)
    assert await process.wait() == 0


def stored(log: MessageLog, count: int) -> None:
    """Wait (on a thread with no loop) until the store holds the first ``count``."""
    deadline = time.monotonic() + 10
    while log.recorder is None or log.recorder.committed < count:
        assert time.monotonic() < deadline, "the store did not catch up"
        time.sleep(0.02)


async def committed(log: MessageLog, count: int) -> None:
    """Wait until the store holds the first ``count`` messages."""
    deadline = time.monotonic() + 20
    while log.recorder is None or log.recorder.committed < count:
        assert time.monotonic() < deadline, "the store did not catch up"
        await asyncio.sleep(0.05)


def test_old_messages_live_on_disk_and_read_back_as_they_were(tmp_path: Path,
                                                             spill_folder: Path) -> None:
    async def main() -> None:
        async with small_window(tmp_path) as (engine, port):
            seen = []
            engine.capture.subscribe(lambda e: seen.append(getattr(e, "message", None)))
            await curl(port, REQUESTS)
            log = engine.capture.messages
            assert isinstance(log, MessageLog)
            deadline = time.monotonic() + 10
            while len(log) < 2 * REQUESTS:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            await committed(log, 2 * REQUESTS)
            await curl(port, 1)  # one more append lets the committed ones go
            published = [m for m in seen if m is not None]

            assert log.path is not None and log.path.parent == spill_folder
            assert log.path.exists()
            kept = len(log) - log.first_kept
            assert WINDOW <= kept <= WINDOW + 2  # the rest is only on disk
            assert log[0] == published[0]  # read back from the store, every field
            assert (log[0].summary, log[1].summary) == ("GET /style.css?n=0", "200 OK")
            assert list(log) == published  # a walk: store, then memory
            assert log[5:9] == published[5:9]
            conn = log[0].connection
            assert [m.id for m in engine.capture.messages_of(conn)] == [
                m.id for m in published if m.connection == conn]

            result = await engine.replay(conn, [log[0].id])  # replayed from the store
            assert result.error == "" and result.messages == 1
        assert not list(spill_folder.iterdir())  # deleted when the lab ends

    run(main, timeout=60)


def test_save_and_export_of_a_spilled_capture_hold_every_message(tmp_path: Path) -> None:
    async def main() -> None:
        async with small_window(tmp_path) as (engine, port):
            await curl(port, REQUESTS)
            log = engine.capture.messages
            deadline = time.monotonic() + 10
            while len(log) < 2 * REQUESTS:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            await committed(log, 2 * REQUESTS)
            await curl(port, 1)
            assert log.first_kept > 0
            expected = list(log)

            saved = tmp_path / "day.cslab"
            assert await save_capture(engine, {}, str(saved)) == len(expected)
            assert load(saved).messages == expected

            lines = tmp_path / "day.jsonl"
            await export_capture(engine.capture, "jsonl", str(lines))
            records = [json.loads(line) for line in lines.read_text().splitlines()]
            ids = [r["id"] for r in records if r["type"] == "message"]
            assert ids == [m.id for m in expected]
            assert [r["type"] for r in records][0] == "open"

            packets = tmp_path / "day.pcapng"  # streamed: the same bytes as made whole
            await export_capture(engine.capture, "pcapng", str(packets))
            assert packets.read_bytes() == _pcapng_of(
                expected, engine.capture.all_connections(), tmp_path)

    run(main, timeout=60)


def test_clearing_deletes_the_store_and_ids_start_again(tmp_path: Path,
                                                       spill_folder: Path) -> None:
    async def main() -> None:
        async with small_window(tmp_path) as (engine, port):
            await curl(port, 60)
            log = engine.capture.messages
            deadline = time.monotonic() + 10
            while log.path is None:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            first = log.path
            await engine.clear_capture()
            assert not first.exists()
            await curl(port, 1)
            deadline = time.monotonic() + 10
            while len(engine.capture.messages) < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            again = engine.capture.messages
            assert [m.id for m in again] == [1, 2] and again[1].sender is Sender.SERVER

    run(main, timeout=60)


def test_a_killed_labs_store_is_removed_by_the_next(spill_folder: Path) -> None:
    spill_folder.mkdir()
    gone = 2 ** 22 + 12345  # above Linux's default pid_max: no such process
    stale = spill_folder / f"capture-{gone}-1.cslab"
    stale.write_bytes(b"x")
    (spill_folder / f"capture-{gone}-1.cslab-wal").write_bytes(b"x")
    mine = spill_folder / f"capture-{os.getpid()}-99.cslab"
    mine.write_bytes(b"x")
    other = spill_folder / "notes.txt"
    other.write_text("a user's file")
    remove_stale(spill_folder)
    assert sorted(p.name for p in spill_folder.iterdir()) == sorted([mine.name, other.name])


def test_cslab_export_of_a_big_capture_streams(tmp_path: Path) -> None:
    """A .cslab to JSON Lines, pcapng or .cslab in constant memory: four times the
    messages, not four times the memory (a few MB more at most)."""
    async def main() -> Path:
        async with small_window(tmp_path) as (engine, port):
            await curl(port, 300, "/api/notes/1")
            saved = tmp_path / "big.cslab"
            await committed(engine.capture.messages, 600)
            await save_capture(engine, {}, str(saved))
            return saved

    stored = load(run(main, timeout=60))
    assert len(stored.messages) == 600

    def peak_of(copies: int, fmt: str) -> int:
        many = [replace(m, id=n + 1) for n, m in enumerate(stored.messages * copies)]
        source, out = tmp_path / f"x{copies}.cslab", tmp_path / f"x{copies}.{fmt}"
        if not source.exists():
            save(source, Stored(connections=stored.connections), many)
        del many
        tracemalloc.start()
        try:
            written = export(source, fmt, out)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        if fmt == "jsonl":  # the messages, the connection's open and close
            assert written == 600 * copies + 2
            assert sum(1 for _ in out.open()) == written
        elif fmt == "cslab":
            assert written == 600 * copies
            if copies == 6:
                assert load(out).messages == load(source).messages
        elif copies == 6:  # as the packets of the same capture made in memory
            whole = load(source)
            assert out.read_bytes() == _pcapng_of(whole.messages, whole.connections, tmp_path)
        return peak

    for fmt in ("jsonl", "pcapng", "cslab"):
        small, big = peak_of(6, fmt), peak_of(24, fmt)
        # held whole, 10,800 more messages would take over 10 MB (about 1 KB each)
        assert big - small < 4_000_000, f"{fmt}: 3,600 messages {small:,} B; 14,400: {big:,} B"


def _pcapng_of(messages: list[Message], connections: dict[str, Connection],
               folder: Path) -> bytes:
    from lab import pcapng

    path = folder / "in-memory.pcapng"
    pcapng.write(messages, connections, path)
    return path.read_bytes()


def test_old_closed_connections_live_on_disk_too(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.capture.CLOSED_KEPT", 5)

    async def main() -> None:
        async with small_window(tmp_path) as (engine, port):
            urls = [f"http://127.0.0.1:{port}/style.css?n={n}" for n in range(40)]
            process = await asyncio.create_subprocess_exec(
                "curl", "-sS", "-H", "Connection: close", *urls,
                stdout=asyncio.subprocess.DEVNULL)
            assert await process.wait() == 0
            capture = engine.capture
            deadline = time.monotonic() + 10
            while sum(1 for c in capture.all_connections().values() if c.closed) < 40:
                assert time.monotonic() < deadline, "curl's 40 connections did not close"
                await asyncio.sleep(0.05)
            await committed(capture.messages, 80)
            every = capture.all_connections()
            assert len(every) == 40 and len(capture.connections) <= 5
            first = next(iter(every))
            assert first not in capture.connections
            old = capture.connection(first)
            assert old is not None and old.closed is not None and old.protocol == "http"
            assert capture.close(first) == old  # closed once: later calls return it
            saved = tmp_path / "all.cslab"
            await save_capture(engine, {}, str(saved))
            assert sorted(load(saved).connections) == sorted(every)
            result = await engine.replay(first)
            assert result.error == "" and result.messages == 1

    run(main, timeout=60)


def test_the_store_finds_text_as_the_inspector_folds_it() -> None:
    """The store keeps each message's casefolded text: "STRASSE" finds "Straße", as
    the inspector's filter does in memory (SQLite's lower() would not)."""
    from lab.model import Piece, Transport, search_text

    capture = Capture(window=10)
    conn = capture.open(protocol="smtp", transport=Transport.TCP, client="127.0.0.1:5000",
                        server="127.0.0.1:2525")
    for n in range(40):
        words = "Subject: Straße" if n % 10 == 3 else "NOOP"
        capture.add(conn, Piece(sender=Sender.CLIENT, summary=f"{words} {n}", size=4,
                                raw=b"NOOP", time=time.time()))
    log = capture.messages
    stored(log, 40)
    reader = log.reader()
    assert reader.folds
    assert reader.matching("strasse", 1, 40) == [4, 14, 24, 34]
    assert reader.matching("c1 smtp", 1, 40) == list(range(1, 41))  # spans the fields
    assert all("strasse" in search_text(log[i - 1]) for i in (4, 14))
    capture.finish()


def test_a_recording_is_the_captures_store_too(tmp_path: Path, spill_folder: Path) -> None:
    """``--record FILE``: the capture keeps its older messages in the user's file (one
    file written, not two), and the file is whole and the user's when the lab ends."""
    from lab.cli_output import record_file
    from lab.model import Piece, Transport

    capture = Capture(window=10)
    path = tmp_path / "day.cslab"
    with record_file(capture, str(path)):
        conn = capture.open(protocol="raw", transport=Transport.TCP,
                            client="127.0.0.1:5000", server="127.0.0.1:7007")
        for n in range(60):
            capture.add(conn, Piece(sender=Sender.CLIENT, summary=f"m{n}", size=1, raw=b"x",
                                    time=time.time()))
        log = capture.messages
        assert log.path == path
        stored(log, 60)
        capture.add(conn, Piece(sender=Sender.CLIENT, summary="m60", size=1, raw=b"x",
                                time=time.time()))
        assert log.first_kept > 0 and log[0].summary == "m0"  # from the recording
        capture.close(conn.id)
    assert not spill_folder.exists() or not list(spill_folder.iterdir())
    assert [m.summary for m in load(path).messages] == [f"m{n}" for n in range(61)]
    assert not Path(f"{path}-wal").exists()  # folded back into one file
    assert path.exists()
    capture.finish()
    assert path.exists()  # the user's file stays


def test_bytes_never_delivered_are_marked_on_a_message_only_the_store_has() -> None:
    """A connection that closes long after its last message (a peer that stopped
    reading): the Wire's count of bytes it never delivered still lands on that message,
    read back from the store and amended there."""
    from lab.model import MessageAmended, Piece, Transport

    capture = Capture(window=10)
    amends: list[int] = []
    capture.subscribe(lambda e: amends.append(e.message.id)
                      if isinstance(e, MessageAmended) else None)
    quiet = capture.open(protocol="raw", transport=Transport.TCP, client="127.0.0.1:5000",
                         server="127.0.0.1:7007")
    busy = capture.open(protocol="raw", transport=Transport.TCP, client="127.0.0.1:5001",
                        server="127.0.0.1:7007")
    capture.add(quiet, Piece(sender=Sender.SERVER, summary="big", size=100, raw=b"x" * 100,
                             time=time.time()))
    for n in range(30):
        capture.add(busy, Piece(sender=Sender.CLIENT, summary=f"m{n}", size=1, raw=b"x",
                                time=time.time()))
    log = capture.messages
    stored(log, 31)
    deadline = time.monotonic() + 10
    capture.add(busy, Piece(sender=Sender.CLIENT, summary="last", size=1, raw=b"x",
                            time=time.time()))
    assert log.first_kept > 0  # message 1 is only in the store now
    [amended] = capture.undelivered(quiet, Sender.SERVER, 60)
    assert (amended.id, amended.undelivered, amended.summary) == (1, 60, "big")
    assert amends == [1]
    while log[0].undelivered != 60:  # the store's row is rewritten on its next beat
        assert time.monotonic() < deadline + 10
        time.sleep(0.02)
    capture.finish()
