"""Only the bridge and the command proxy cross between the engine thread and Qt:
while the window runs lessons and every kind of server and client, no code from
``ui/`` runs on the engine's thread and no Qt object is touched from it (no Qt call
at all: not a signal emitted, not a widget read)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import ui
from lab.clients import CLIENT_KINDS
from lab.servers import SERVER_KINDS
from tests.ui.helpers import WAIT
from tests.ui.test_lesson_walk import walk
from ui.engine_thread import EngineThread
from ui.mainwindow import MainWindow

UI_DIR = str(Path(ui.__file__).parent)
QT_MODULES = ("PySide6", "shiboken6")
#: The command proxy's way back: a command's answer wakes the Qt thread's qasync loop
#: (``call_soon_threadsafe`` posts to it with a queued signal). That is the seam itself.
ANSWER_PATH = ("call_soon_threadsafe",)


class SeamWatch:
    """A profiler on the engine thread that notes every crossing of the seam."""

    def __init__(self) -> None:
        self.crossings: list[str] = []
        self.thread: int | None = None

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            if frame.f_code.co_filename.startswith(UI_DIR):
                self.crossings.append(f"ui code {frame.f_code.co_qualname} "
                                      f"({frame.f_code.co_filename}:{frame.f_lineno})")
        elif event == "c_call":
            owner = getattr(arg, "__self__", None)
            module = getattr(arg, "__module__", None) or type(owner).__module__ or ""
            if module.startswith(QT_MODULES) and not (
                    "qasync" in frame.f_code.co_filename
                    and frame.f_code.co_name in ANSWER_PATH):
                self.crossings.append(f"Qt call {getattr(arg, '__qualname__', arg)!r} from "
                                      f"{frame.f_code.co_qualname} ({frame.f_code.co_filename})")

    def install(self, lab: EngineThread) -> None:
        installed = threading.Event()

        def on_engine_thread() -> None:
            self.thread = threading.get_ident()
            sys.setprofile(self)
            installed.set()

        lab.loop.call_soon_threadsafe(on_engine_thread)
        assert installed.wait(10)

    def remove(self, lab: EngineThread) -> None:
        done = threading.Event()

        def on_engine_thread() -> None:
            sys.setprofile(None)
            done.set()

        lab.loop.call_soon_threadsafe(on_engine_thread)
        done.wait(10)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


@pytest.mark.parametrize("lesson", ["04-mail", "05-ftp", "07-websocket-chat"])
def test_lessons_cross_only_through_the_bridge_and_the_commands(
        window: MainWindow, lab: EngineThread, qtbot, lesson: str) -> None:  # type: ignore[no-untyped-def]
    watch = SeamWatch()
    watch.install(lab)
    try:
        walk(window, qtbot, lesson)
    finally:
        watch.remove(lab)
    assert watch.thread != threading.get_ident()
    assert not watch.crossings, "\n".join(dict.fromkeys(watch.crossings))


def test_every_panel_kind_crosses_only_through_the_seam(
        window: MainWindow, lab: EngineThread, qtbot) -> None:  # type: ignore[no-untyped-def]
    watch = SeamWatch()
    watch.install(lab)
    try:
        for kind in SERVER_KINDS:
            window.server_actions[kind.kind].trigger()
        for client in CLIENT_KINDS:
            window.client_actions[client.kind].trigger()
        total = len(SERVER_KINDS) + len(CLIENT_KINDS)
        qtbot.waitUntil(lambda: len(window.panels) == total, timeout=WAIT * 3)
        qtbot.waitUntil(lambda: all(p.info.state.value == "running"
                                    for p in window.servers.panels()), timeout=WAIT * 3)
        qtbot.waitUntil(lambda: len(window.bridge.server_states) + len(
            window.bridge.client_states) >= len(CLIENT_KINDS), timeout=WAIT)
    finally:
        watch.remove(lab)
    assert not watch.crossings, "\n".join(dict.fromkeys(watch.crossings))
