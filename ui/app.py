"""The GUI's entry point: QApplication, the engine thread, qasync, the main window.

``cslab gui`` calls ``main``. The engine runs on its own thread and loop; the Qt
thread runs a qasync loop for the UI's coroutines. Quitting (window closed,
Ctrl+Q, SIGINT or SIGTERM) stops every node and frees every port before exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from lab.paths import resources_dir
from ui.bridge import SAMPLE_ABOVE, EngineBridge
from ui.engine_thread import EngineThread, pending_tasks, spawn
from ui.mainwindow import TITLE, MainWindow

#: The .desktop file's name (packaging/), so that a desktop pairs the window with it.
DESKTOP_ID = "cslab"
#: Set to 1 and the app prints "window shown" on stderr once its window is on screen,
#: and "panels N" each time its number of server and client panels changes.
REPORT_SHOWN_ENV = "CSLAB_REPORT_SHOWN"


def app_icon() -> QIcon:
    """The lab's icon (a client and a server, arrows between), drawn from its SVG at
    every size, with the PNGs as fallbacks where SVG icons cannot be read."""
    icons = resources_dir() / "icons"
    icon = QIcon(str(icons / "cslab.svg"))
    for size in (48, 128, 256):
        icon.addFile(str(icons / f"cslab-{size}.png"))
    return icon


def _quit_on_signals(app: QApplication) -> QTimer:
    """Let Ctrl+C and SIGTERM close the app cleanly (ports freed), not kill it.

    Python runs signal handlers only between bytecodes, so a timer wakes the
    interpreter a few times a second while Qt waits for events.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: app.quit())
    wakeup = QTimer(app)
    wakeup.timeout.connect(lambda: None)
    wakeup.start(200)
    return wakeup


def _report_when_shown(window: MainWindow) -> None:
    def check() -> None:
        handle = window.windowHandle()
        if window.isVisible() and handle is not None and handle.isExposed():
            print("window shown", file=sys.stderr, flush=True)
            return
        QTimer.singleShot(100, check)

    QTimer.singleShot(0, check)


def _report_panels(window: MainWindow) -> QTimer:
    """Print ``panels N`` on stderr whenever the number of node panels changes, so that
    a test of the packaged app sees each panel's module load (they load on first use)."""
    shown = [0]

    def check() -> None:
        if len(window.panels) != shown[0]:
            shown[0] = len(window.panels)
            print(f"panels {shown[0]}", file=sys.stderr, flush=True)

    timer = QTimer(window)
    timer.timeout.connect(check)
    timer.start(100)
    return timer


def shutdown(window: MainWindow, bridge: EngineBridge, lab: EngineThread) -> None:
    """What quitting does: stop watching, drop UI coroutines, stop every node, join."""
    window.close()
    bridge.close()
    for task in pending_tasks():
        task.cancel()
    lab.stop()


def main(scenario: str | None = None) -> int:
    """Open the lab's window and run until it is closed; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(TITLE)
    app.setApplicationDisplayName(TITLE)
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(app_icon())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    lab = EngineThread()
    bridge = EngineBridge(lab.engine.capture, sample_above=SAMPLE_ABOVE)
    lab.start()
    window = MainWindow(lab, bridge)
    if scenario:  # else the status bar says what to add first, until it is done
        spawn(window.lessons.open(scenario))
    wakeup = _quit_on_signals(app)
    window.show()
    if os.environ.get(REPORT_SHOWN_ENV) == "1":
        _report_when_shown(window)
        _report_panels(window)
    try:
        loop.run_forever()
    finally:
        wakeup.stop()
        shutdown(window, bridge, lab)
        window.deleteLater()
        asyncio.set_event_loop(None)
        loop.close()
    return 0
