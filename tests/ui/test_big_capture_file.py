"""Opening a big saved capture: the window opens at once and reads, checks and shows
its messages a chunk at a time, keeping only the newest in memory (the rest are read
back from the file as they are shown)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.model import Connection, Message, Sender, Transport
from lab.store import Stored, save
from tests.ui.test_mainwindow import WAIT
from ui.mainwindow import MainWindow

COUNT = 6000


def saved(path: Path, bad: int | None = None) -> Path:
    """A .cslab of COUNT messages on one connection ("m0", "m1", …); message ``bad``
    has a time no capture can have."""
    now = time.time()
    conn = Connection(id="c1", protocol="raw", transport=Transport.TCP,
                      client="127.0.0.1:5000", server="127.0.0.1:7007", opened=now)
    messages = [Message(id=n + 1, time=1e300 if n + 1 == bad else now + n / 1000,
                        connection="c1", protocol="raw",
                        sender=Sender.CLIENT if n % 2 == 0 else Sender.SERVER,
                        client=conn.client, server=conn.server, summary=f"m{n}", size=1,
                        raw=b"x") for n in range(COUNT)]
    save(path, Stored(connections={"c1": conn}), messages)
    return path


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.capture_read.BIG_CAPTURE", 100)
    monkeypatch.setattr("ui.views.capture_file.LOAD_CHUNK", 500)
    monkeypatch.setattr("lab.spill.WINDOW", 200)
    monkeypatch.setattr("ui.models.stored_rows.CACHED_ROWS", 200)


def test_a_big_capture_opens_at_once_and_shows_every_row(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, small: None) -> None:
    viewer = window.capture_files.open(str(saved(tmp_path / "day.cslab")))
    assert viewer is not None
    assert viewer.model.rowCount() < COUNT  # not read whole before it showed
    assert "6,000 messages" in viewer.summary.text()
    qtbot.waitUntil(lambda: viewer.model.rowCount() == COUNT, timeout=WAIT)
    qtbot.waitUntil(lambda: not viewer.loading.isActive(), timeout=WAIT)
    assert viewer.model.kept() <= 200 + 500 + 200  # the newest, a chunk, a few read back
    assert viewer.model.message(0).summary == "m0"  # read back from the file
    assert viewer.model.message(COUNT - 1).summary == f"m{COUNT - 1}"
    viewer.inspector.proxy.set_filter_text("m1234")
    qtbot.waitUntil(lambda: viewer.inspector.proxy.rowCount() == 1, timeout=WAIT)
    viewer.close()


def test_a_bad_message_in_a_big_capture_stops_the_reading_with_one_line(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, small: None) -> None:
    viewer = window.capture_files.open(str(saved(tmp_path / "bad.cslab", bad=1500)))
    assert viewer is not None
    qtbot.waitUntil(lambda: not viewer.loading.isActive(), timeout=WAIT)
    said = viewer.statusBar().currentMessage()
    assert said.startswith("Stopped reading:") and "message 1500" in said, said
    assert viewer.model.rowCount() == 1000  # the chunks before the bad one
    viewer.close()
