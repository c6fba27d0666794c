"""The GUI's entry point: QApplication, the engine thread, qasync, the main window.

``cslab gui`` calls ``main``. The engine runs on its own thread and loop; the Qt
thread runs a qasync loop for the UI's coroutines. Quitting (window closed,
Ctrl+Q, SIGINT or SIGTERM) stops every node and frees every port before exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING

import qasync
from PySide6.QtCore import QMetaObject, Qt, QTimer
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
#: How long quitting may take after Ctrl+C or SIGTERM before the app stops the engine
#: itself and leaves (seconds).
QUIT_GRACE = 3.0
#: How long that forced stop waits for the engine to free its ports (seconds).
FORCED_SHUTDOWN_WAIT = 1.5

if TYPE_CHECKING:
    from lab.store import Stored


def app_icon() -> QIcon:
    """The lab's icon (a client and a server, arrows between), drawn from its SVG at
    every size, with the PNGs as fallbacks where SVG icons cannot be read."""
    icons = resources_dir() / "icons"
    icon = QIcon(str(icons / "cslab.svg"))
    for size in (48, 128, 256):
        icon.addFile(str(icons / f"cslab-{size}.png"))
    return icon


class QuitOnSignals:
    """Ctrl+C (SIGINT) and SIGTERM close the app cleanly (every port freed), and
    promptly whatever the Qt thread is doing.

    The Python handler quits the app (a timer wakes the interpreter a few times a
    second while Qt waits for events). But Python runs a handler only when the main
    thread runs Python bytecode, so it would wait for the Qt thread to come back from
    a long call. So the signal's number is also written to a socket
    (``signal.set_wakeup_fd``) that a thread of its own reads at once: it asks Qt to
    quit too, and if the app has not finished quitting QUIT_GRACE seconds later (the
    Qt thread still busy), or on a second signal, it stops the engine itself and ends
    the process (exit 128 + the signal's number), with one line on stderr.
    """

    def __init__(self, app: QApplication, lab: EngineThread) -> None:
        self.app = app
        self.lab = lab
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)
        self._closed = False
        # the handler quits too when the Qt thread runs Python first (a timer wakes it)
        self._before = {signum: signal.signal(signum, lambda *_: app.quit())
                        for signum in (signal.SIGINT, signal.SIGTERM)}
        self._wakeup = QTimer(app)
        self._wakeup.timeout.connect(lambda: None)
        self._wakeup.start(200)
        self._old_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="cslab-signals", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        deadline: float | None = None
        first: int = signal.SIGINT
        while True:
            self._read.settimeout(None if deadline is None  # (0 would not block at all)
                                  else max(0.001, deadline - time.monotonic()))
            try:
                data = self._read.recv(64)
            except TimeoutError:
                break
            except OSError:
                return
            if self._closed or not data:
                return
            signums = [n for n in data if n in (signal.SIGINT, signal.SIGTERM)]
            if not signums:
                continue
            if deadline is not None:
                break  # a second Ctrl+C: do not wait out the grace
            first, deadline = signums[0], time.monotonic() + QUIT_GRACE
            QMetaObject.invokeMethod(self.app, "quit", Qt.ConnectionType.QueuedConnection)
        if not self._closed:
            self._force(first)

    def _force(self, signum: int) -> None:
        print(f"cslab: still busy {QUIT_GRACE:g} s after {signal.Signals(signum).name}; "
              "stopping every server and quitting now", file=sys.stderr, flush=True)
        try:
            self.lab.run(self.lab.engine.shutdown, timeout=FORCED_SHUTDOWN_WAIT)
        except BaseException:  # noqa: BLE001 - leaving regardless; the OS frees the ports
            pass
        os._exit(128 + signum)

    def close(self) -> None:
        """Quitting is done: put the handlers back and end the watching thread."""
        self._closed = True
        self._wakeup.stop()
        signal.set_wakeup_fd(self._old_fd)
        for signum, handler in self._before.items():
            signal.signal(signum, handler)
        self._write.close()
        self._thread.join(1.0)
        self._read.close()


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
    lab.engine.capture.finish()  # its store of older messages goes with the app


def main(scenario: str | None = None, capture: tuple[str, Stored] | None = None) -> int:
    """Open the lab's window and run until it is closed; returns the exit status.
    ``scenario`` is a lesson or scenario to open; ``capture`` a capture already read
    (its path and what it holds, see lab.cli.gui_file) to show read-only beside it."""
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
    signals = QuitOnSignals(app, lab)
    window = MainWindow(lab, bridge)
    if scenario:  # else the status bar says what to add first, until it is done
        spawn(window.lessons.open(scenario))
    window.show()
    if capture is not None:
        window.capture_files.show(capture[1], capture[0])
    if os.environ.get(REPORT_SHOWN_ENV) == "1":
        _report_when_shown(window)
        _report_panels(window)
    try:
        loop.run_forever()
    finally:
        shutdown(window, bridge, lab)
        window.deleteLater()
        asyncio.set_event_loop(None)
        loop.close()
        signals.close()
    return 0
