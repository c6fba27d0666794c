"""Walk a lesson in presentation mode and save what the window shows after each step.

    xvfb-run -a -s "-screen 0 1280x720x24" .venv/bin/python -m tests.ui.lesson_shots \
        04-mail /tmp/shots [--look dark]

Opens the lab, enters presentation mode, opens the lesson, then presses Next step
(as the presenter does) until the lesson is done, saving ``step-0.png`` (the lesson
opened) and ``step-N.png`` after step N. For looking at what a class sees.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

from tests.ui.demo_conversations import run_window, wait_for
from ui.mainwindow import MainWindow

SETTLE_S = 0.8  # after a step: the bridge's batches, the diagram's scroll, a repaint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ui.lesson_shots",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("lesson", help="a built-in lesson's name or a scenario file")
    parser.add_argument("out", type=Path, help="the folder for step-N.png")
    parser.add_argument("--look", choices=["light", "dark", "high-contrast", "system"],
                        default="")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="cslab-shots-"))
    os.environ["CSLAB_DATA_DIR"] = str(scratch / "data")

    async def play(window: MainWindow, app: QApplication) -> None:
        async def shoot(number: int) -> None:
            await asyncio.sleep(SETTLE_S)
            path = args.out / f"step-{number}.png"
            window.grab().save(str(path))
            print(f"saved {path}", flush=True)

        try:
            window.view.presentation.enter()
            lessons = window.lessons
            if not await lessons.open(args.lesson):
                print(lessons.text.text(), file=sys.stderr)
                return
            await shoot(0)
            scenario = lessons.scenario
            assert scenario is not None
            for number in range(1, len(scenario.steps) + 1):
                lessons.next_action.trigger()
                await wait_for(lambda: len(lessons.results) >= number, 60)  # noqa: B023
                await shoot(number)
        finally:
            app.quit()

    return run_window(scratch, args.look, play)


if __name__ == "__main__":
    sys.exit(main())
