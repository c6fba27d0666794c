"""Fixtures for the UI tests: a qasync loop on the Qt thread, the engine thread, the window.

The qasync loop is made once (``already_running=True``: pytest-qt's waits run the
Qt event loop) and is marked as the running loop only while a UI test runs, so
tests elsewhere that call ``asyncio.run`` are not disturbed. Never ``loop.stop()``
here: it would call ``QApplication.exit()`` and break every later ``qtbot`` wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from lab.model import Message, Sender
from ui.bridge import EngineBridge
from ui.engine_thread import EngineThread, pending_tasks
from ui.mainwindow import MainWindow

_loop: qasync.QEventLoop | None = None


@pytest.fixture
def ui_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    global _loop
    if _loop is None:
        _loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(_loop)
    asyncio.set_event_loop(_loop)
    try:
        yield _loop
    finally:
        for task in pending_tasks():
            task.cancel()
        qapp.processEvents()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


@pytest.fixture
def lab(ui_loop: qasync.QEventLoop) -> Iterator[EngineThread]:
    thread = EngineThread()
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def bridge(lab: EngineThread, qapp: QApplication) -> Iterator[EngineBridge]:
    b = EngineBridge(lab.engine.capture)
    yield b
    b.close()


@pytest.fixture
def window(lab: EngineThread, bridge: EngineBridge, qtbot) -> MainWindow:  # type: ignore[no-untyped-def]
    """The main window, with servers added from the toolbar on port 0 (never clashes)."""
    w = MainWindow(lab, bridge, server_port=0)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    return w


@pytest.fixture
def stage(lab: EngineThread, bridge: EngineBridge, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
          monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    """A 1280×720 main window with its own settings and data folder; it leaves
    presentation mode and the zoom as it found them (the application font is shared)."""
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    settings = QSettings(str(tmp_path / "cslab.ini"), QSettings.Format.IniFormat)
    window = MainWindow(lab, bridge, server_port=0, settings=settings)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    yield window
    window.view.presentation.leave()  # the application font back to normal for other tests
    window.view.presentation.set_zoom(100)


def _make_message(n: int, summary: str = "", *, connection: str = "c1",
                 sender: Sender = Sender.CLIENT, malformed: bool = False,
                 protocol: str = "tcp-echo") -> Message:
    """A Message as the Capture would make it (ids count from 1)."""
    text = summary or f"message {n}"
    raw = text.encode()
    return Message(id=n, time=time.time() + n * 0.001, connection=connection,
                   protocol=protocol, sender=sender, client="127.0.0.1:50000",
                   server="127.0.0.1:7007", summary=text, size=len(raw), raw=raw,
                   fields=(("length", len(raw)),), malformed=malformed)


@pytest.fixture
def make_message():  # type: ignore[no-untyped-def]
    """Build Messages for model and view tests: ``make_message(n, summary, ...)``."""
    return _make_message
