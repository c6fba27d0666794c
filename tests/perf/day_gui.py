"""The window part of tests/perf/day_bench.py: ``cslab gui`` with its capture shown.

Built as ui/app.py builds the app (an EngineThread, the EngineBridge with the app's
sampling, the MainWindow, a qasync loop), on Qt's offscreen platform, with settings in
a temporary folder. An HTTP server is added to the engine as the window adds one, and
day_bench.drive loads it with wrk. Stalls: a 10 ms heartbeat on the engine loop (as in
the engine part) and a 10 ms PreciseTimer QTimer on the Qt thread. Run it through
``python -m tests.perf.day_bench`` (it starts this in a subprocess of its own).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.perf.day_bench import Meter, Stalls, drive, summary


class QtBeat:
    """A 10 ms QTimer on the Qt thread feeding ``stalls`` with the engine's count."""

    def __init__(self, meter: Meter, stalls: Stalls) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.meter, self.stalls = meter, stalls
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(lambda: self.stalls.tick(self.meter.count))
        self.stalls.last = time.perf_counter()
        self.timer.start()


async def _caught_up(bridge: Any, count: int, limit: float = 60.0) -> None:
    """Until the bridge has counted ``count`` messages (if it still counts them)."""
    deadline = time.monotonic() + limit
    while getattr(bridge, "message_count", count) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def measure(target: int, max_seconds: float, slice_seconds: int) -> dict[str, Any]:
    from PySide6.QtCore import QSettings

    from ui.bridge import SAMPLE_ABOVE, EngineBridge
    from ui.engine_thread import EngineThread
    from ui.mainwindow import MainWindow

    lab = EngineThread()
    bridge = EngineBridge(lab.engine.capture, sample_above=SAMPLE_ABOVE)  # as ui.app
    lab.start()
    folder = tempfile.mkdtemp(prefix="cslab-day-gui-")
    settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(lab, bridge, server_port=0, settings=settings)
    window.resize(1280, 800)
    window.show()
    meter = Meter(target)
    qt = Stalls(target)
    try:
        info = await lab.call(lab.engine.add_server, "http", port=0)
        beat = asyncio.run_coroutine_threadsafe(meter.heartbeat(lab.engine.capture), lab.loop)
        qt_beat = QtBeat(meter, qt)
        try:
            driven = await drive(info.address, meter, [meter.engine, qt], max_seconds,
                                 slice_seconds)
        finally:
            meter.stop()
            qt_beat.timer.stop()
            await asyncio.wrap_future(beat)
        res = {"part": "gui", "address": info.address,
               **summary(meter, {"engine": meter.engine, "qt": qt}, driven)}
        await _caught_up(bridge, meter.count)
        res["bridge_count"] = getattr(bridge, "message_count", None)
        model = getattr(window, "model", None)
        res["rows"] = model.rowCount() if model is not None else None
        return res
    finally:
        meter.stop()
        window.close()
        bridge.close()
        lab.stop()


def gui_day(target: int, max_seconds: float, slice_seconds: int) -> dict[str, Any]:
    """Run ``measure`` on a qasync loop in this process; its figures."""
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        res: dict[str, Any] = loop.run_until_complete(
            measure(target, max_seconds, slice_seconds))
    return res
