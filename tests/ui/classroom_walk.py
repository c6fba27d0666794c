"""Walk lessons in presentation mode and measure what the projected window shows.

    QT_QPA_PLATFORM=offscreen:configfile=SCREEN.json \\
        .venv/bin/python -m tests.ui.classroom_walk OUT [LESSON ...]

(SCREEN.json names one screen of the projector's size; ``screen_config`` writes one.)
Opens the lab full screen in presentation mode and, for each lesson (all built-in
ones by default), opens it and presses Next step to the end as a presenter does.
After each step, once the window has settled (the step's last message selected, the
newest arrow in view) or SETTLE_S has passed, it measures: the banner's height, the
diagram's height against the window's, whether the newest arrow is inside the
diagram's viewport, what Explain says, and whether the panel of the step's client is
in view. It writes ``OUT/report.json`` (one record a step) and ``OUT/LESSON.png``
(the window after the lesson's last step).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

from lab.scenario import lessons
from tests.ui.demo_conversations import run_window
from ui.mainwindow import MainWindow

SETTLE_S = 10.0


def screen_config(path: Path, width: int, height: int) -> Path:
    """Write an offscreen platform configuration with one ``width``×``height`` screen."""
    path.write_text(json.dumps({"screens": [{
        "name": "projector", "x": 0, "y": 0, "width": width, "height": height,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return path


def newest_in_view(window: MainWindow, sideways: bool = True) -> bool:
    """Whether the diagram's last arrow is wholly inside its viewport, both ways (or
    only its row, without ``sideways``: a window too narrow for the lanes)."""
    view, diagram = window.wire, window.diagram
    row = diagram.row_count() - 1
    if row < 0:
        return True
    top, height = view.row_y(row), view.painter.row_height
    if top < 0 or top + height > view.viewport().height():
        return False
    if not sideways:
        return True
    arrow = diagram.arrow(row)
    if arrow is None:
        return False
    lay = view.diagram_layout()
    left = view.horizontalScrollBar().value()
    ends = sorted((lay.lane_x(arrow.start) - left, lay.lane_x(arrow.end) - left))
    return ends[0] >= 0 and ends[1] <= view.viewport().width()


def in_view(widget: QWidget | None, area: QWidget) -> bool:
    """Whether ``widget``'s top part shows inside ``area`` (a scroll area's viewport)."""
    if widget is None or not widget.isVisible():
        return False
    top_left = widget.mapTo(area, widget.rect().topLeft())
    shown = QRect(top_left, widget.size()).intersected(area.rect())
    return shown.height() >= min(60, widget.height())


def measure(window: MainWindow, lesson: str, number: int, last_id: int | None,
            client: str) -> dict[str, Any]:
    selected = window.inspector.selected_message()
    panel = next((p for p in window.panels.values() if p.info.name == client), None)
    explain = window.inspector.explain.toPlainText().strip()
    return {
        "lesson": lesson, "step": number,
        "window": [window.width(), window.height()],
        "banner": window.lessons.banner.height(),
        "diagram": window.wire.height(),
        "share": round(window.wire.height() / max(1, window.height()), 3),
        "newest_in_view": newest_in_view(window),
        "following": window.wire.follower.following,
        "last_id": last_id,
        "selected_id": selected.id if selected is not None else None,
        "explain": explain[:200],
        "client_in_view": in_view(panel, window.clients.scroll_area.viewport()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ui.classroom_walk",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder for report.json and the PNGs")
    parser.add_argument("lessons", nargs="*", help="lesson names (default: all built-in)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.lessons or [path.stem for _, path in lessons()]
    scratch = Path(tempfile.mkdtemp(prefix="cslab-classroom-"))
    os.environ["CSLAB_DATA_DIR"] = str(scratch / "data")
    records: list[dict[str, Any]] = []
    failures: list[str] = []

    async def settle(window: MainWindow, last_id: int | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        while loop.time() < deadline:
            selected = window.inspector.selected_message()
            if newest_in_view(window) and (last_id is None or (
                    selected is not None and selected.id == last_id)):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a repaint
        QApplication.processEvents()

    async def play(window: MainWindow, app: QApplication) -> None:
        lessons_ = window.lessons

        async def discard(_count: int) -> str:
            return "discard"

        lessons_.confirm = discard
        try:
            window.view.presentation.enter()
            for name in names:
                if not await lessons_.open(name):
                    failures.append(f"{name}: {lessons_.text.text()}")
                    continue
                scenario = lessons_.scenario
                assert scenario is not None
                for number, step in enumerate(scenario.steps, 1):
                    lessons_.next_action.trigger()
                    while len(lessons_.results) < number:
                        await asyncio.sleep(0.05)
                    result = lessons_.results[-1]
                    last_id = result.messages[-1].id if result.messages else None
                    await settle(window, last_id)
                    records.append(measure(window, name, number, last_id, step.client))
                window.grab().save(str(args.out / f"{name}.png"))
        except Exception as exc:  # noqa: BLE001 - reported, and the run ends
            failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            (args.out / "report.json").write_text(
                json.dumps({"records": records, "failures": failures}, indent=1))
            app.quit()

    run_window(scratch, "", play)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
