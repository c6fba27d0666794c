"""Measure how the window fits a screen, in normal and in presentation mode.

Run by tests/ui/test_fit_screens.py in a process of its own, on an offscreen
screen of the size under test (``QT_QPA_PLATFORM=offscreen:configfile=...``):

    python -m tests.ui.fit_check

plays the demo conversations, selects a message, and prints one JSON object
with a measure per mode ("normal", "presenting", "presenting at 175%"): the
diagram's sideways scroll range, its viewport and lane geometry, whether every
lane head shows whole, and the panel columns' sideways scroll ranges. Exits 0
once measured, 1 on an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from ui.mainwindow import MainWindow

QUIT_AFTER_S = 60.0  # a hung conversation ends the process, not the test run


def heads_whole(window: MainWindow) -> bool:
    """Every lane head's name breaks between words, in the header's smaller font at
    least, inside its box (as ui.views.sequence_paint draws it)."""
    from PySide6.QtGui import QFontMetrics

    from lab.model import Sender
    from ui.views.sequence_paint import head_lines, wrap_words

    painter = window.wire.painter
    lay = window.wire.diagram_layout()
    fm = QFontMetrics(painter.small_bold)
    width = int(lay.spacing) - 12
    return all(wrap_words(fm, head_lines(lane)[0], width,
                          3 if lane.role is Sender.CLIENT else 2) is not None
               for lane in window.diagram.lanes())


def measure(window: MainWindow) -> dict[str, Any]:
    wire = window.wire
    wire.diagram_layout()  # lays the lanes out and sets the sideways range
    lay = wire.diagram_layout()
    last_right = lay.lane_x(lay.lanes - 1) + (lay.spacing - 6) / 2 if lay.lanes else 0
    return {
        "window": [window.width(), window.height()],
        "wire_scroll_max": wire.horizontalScrollBar().maximum(),
        "viewport": wire.viewport().width(),
        "diagram_width": lay.width,
        "lanes": lay.lanes,
        "last_head_right": last_right,
        "heads_whole": heads_whole(window),
        "columns": [window.clients.width(), window.top.widget(1).width(),
                    window.servers.width()],
        "column_scroll_max": [c.scroll_area.horizontalScrollBar().maximum()
                              for c in (window.clients, window.servers)],
    }


async def settle(seconds: float = 0.4) -> None:
    await asyncio.sleep(seconds)  # resizes, fonts and the re-layout arrive by events


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="cslab-fit-"))
    os.environ["CSLAB_DATA_DIR"] = str(scratch / "data")
    (scratch / "downloads").mkdir()

    import qasync
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from tests.ui.demo_conversations import conversations, select
    from ui.app import shutdown
    from ui.bridge import EngineBridge
    from ui.engine_thread import EngineThread, spawn

    app = QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    lab = EngineThread()
    bridge = EngineBridge(lab.engine.capture)
    lab.start()
    settings = QSettings(str(scratch / "cslab.ini"), QSettings.Format.IniFormat)
    window = MainWindow(lab, bridge, server_port=0, settings=settings)
    window.show()
    outcome: dict[str, Any] = {}

    async def play() -> None:
        try:
            await conversations(window, scratch / "downloads")
            select(window, "GET /style.css")
            await settle()
            outcome["normal"] = measure(window)
            window.view.presentation.enter()
            await settle()
            outcome["presenting"] = measure(window)
            window.view.presentation.set_zoom(175)
            await settle()
            outcome["presenting at 175%"] = measure(window)
            window.view.presentation.leave()
        except Exception:  # noqa: BLE001 - reported on stderr, exit code 1
            traceback.print_exc()
        finally:
            app.quit()

    spawn(play())
    QTimer.singleShot(int(QUIT_AFTER_S * 1000), app.quit)
    try:
        loop.run_forever()
    finally:
        shutdown(window, bridge, lab)
        asyncio.set_event_loop(None)
        loop.close()
    print(json.dumps(outcome))
    return 0 if "presenting at 175%" in outcome else 1


if __name__ == "__main__":
    sys.exit(main())
