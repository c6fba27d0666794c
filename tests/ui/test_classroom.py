"""The classroom screen (issue 15): what the projected window shows after each Next
step, at a projector's 1280×720 and at 1920×1080, in presentation mode.

The walks run in a child process whose offscreen screen has the projector's size, so
presentation mode goes full screen at that size exactly as on a projector (and picks
its zoom for it). The child writes what it measured after each step and a picture of
each lesson's last step (tests/ui/classroom_walk.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtWidgets import QAbstractSlider

from lab.scenario import lessons
from tests.ui.classroom_walk import in_view, newest_in_view, screen_config
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.panels import NodePanel

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
WAIT = 15000
#: The diagram's least share of the window's height, by screen.
SHARES = {(1280, 720): 0.55, (1920, 1080): 0.60}


@pytest.mark.parametrize("size", list(SHARES), ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_lesson_step_by_step_on_a_projector(tmp_path: Path,
                                                  size: tuple[int, int]) -> None:
    width, height = size
    config = screen_config(tmp_path / "screen.json", width, height)
    out = tmp_path / "walk"
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
           "CSLAB_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "tests.ui.classroom_walk", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    report = json.loads((out / "report.json").read_text())
    assert not report["failures"] and done.returncode == 0, (report["failures"], done.stderr)
    records = report["records"]
    names = [path.stem for _, path in lessons()]
    assert sorted({r["lesson"] for r in records}) == sorted(names)
    assert all((out / f"{name}.png").stat().st_size > 10_000 for name in names)
    for r in records:
        where = f"{r['lesson']} step {r['step']}"
        assert r["window"] == [width, height], where
        assert r["newest_in_view"], f"{where}: the newest arrow is out of view"
        assert r["share"] >= SHARES[size], f"{where}: the diagram has {r['share']:.0%}"
        assert r["selected_id"] == r["last_id"] is not None, f"{where}: not selected"
        assert r["explain"] and not r["explain"].startswith("Select"), where
        assert r["client_in_view"], f"{where}: the step's client panel is out of view"
    assert len({r["banner"] for r in records}) == 1, "the banner changed height"


def run(qtbot, coroutine: Coroutine[Any, Any, T]) -> T:  # type: ignore[no-untyped-def]
    task = spawn(coroutine)
    qtbot.waitUntil(task.done, timeout=WAIT * 2)
    return task.result()


async def pair(window: MainWindow) -> tuple[NodePanel, NodePanel]:
    """An echo server and an echo client of it, added as from the toolbar."""
    server = await window.add_server("tcp-echo")
    client = await window.add_client("echo")
    assert server is not None and client is not None
    return server, client


def fill(window: MainWindow, qtbot, count: int = 60) -> None:  # type: ignore[no-untyped-def]
    """Real traffic: an echo client sends ``count`` / 2 lines to an echo server."""
    rows = window.diagram.row_count()

    async def talk() -> None:
        server, client = await pair(window)
        while not (node := window.bridge.nodes.get(server.info.id)) or node.address.endswith(":0") \
                or not node.address:
            await asyncio.sleep(0.02)  # the bridge brings the running server's address
        address = node.address
        for n in range(count // 2):
            await window.context.commands.client_act(
                client.info.id, "send", [f"line {n}"], settings={"server": address})

    run(qtbot, talk())
    qtbot.waitUntil(lambda: window.diagram.row_count() >= rows + count, timeout=WAIT)


def test_the_newest_arrow_stays_in_view_through_f11_zoom_and_a_dock(
        stage: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """(This process's offscreen screen is 800 pixels wide, too narrow for all lanes
    in presentation mode: the newest row must show; the walks above check sideways.)"""
    window = stage
    fill(window, qtbot)
    view = window.wire
    changes = [
        ("F11", window.view.presentation.enter),
        ("zoom in", window.view.presentation.zoom_in),
        ("zoom out", window.view.presentation.zoom_out),
        ("faults dock", window.wire_controls.faults_action.trigger),
        ("faults dock closed", window.wire_controls.faults_action.trigger),
        ("Esc", window.view.presentation.leave),
        ("faults dock outside presentation", window.wire_controls.faults_action.trigger),
    ]
    for what, change in changes:
        change()
        try:
            qtbot.waitUntil(lambda: newest_in_view(window, sideways=False), timeout=WAIT)
        except Exception:  # pytest-qt's TimeoutError: say after what
            raise AssertionError(f"after {what} the newest arrow is out of view") from None
    # the user scrolls up: it stays there, and the Newest button brings it back
    view.verticalScrollBar().triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)
    assert not view.follower.following and view.follow_button.isVisible()
    fill(window, qtbot, 70)
    assert view.verticalScrollBar().value() == 0
    view.follow_button.click()
    qtbot.waitUntil(lambda: newest_in_view(window, sideways=False), timeout=WAIT)
    assert not view.follow_button.isVisible()


def test_a_lesson_opens_on_its_first_steps_panels_and_shows_results_whole(
        stage: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Opened after other panels, lesson 4 shows Ann's mail program and the mail server
    (step 1's); step 3's result box has all the reader shows of the message POP3
    retrieved (not only "⇒ Return-Path: <ann@lab.test>"), and lesson 5's listing has
    every entry, not just "⇒ 3 entries:"."""
    window = stage
    for _ in range(3):
        run(qtbot, pair(window))

    async def discard(_count: int) -> str:
        return "discard"

    window.lessons.confirm = discard
    task = spawn(window.lessons.open("04-mail"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True

    def shown(name: str, column: object) -> bool:
        panel = next((p for p in window.panels.values() if p.info.name == name), None)
        return in_view(panel, column.scroll_area.viewport())  # type: ignore[attr-defined]

    qtbot.waitUntil(lambda: shown("Ann's mail program", window.clients)
                    and shown("Mail server (SMTP)", window.servers), timeout=WAIT)
    lessons_ = window.lessons
    for number in (1, 2, 3):
        lessons_.next_action.trigger()
        qtbot.waitUntil(lambda n=number: len(lessons_.results) == n, timeout=WAIT * 2)
    result = lessons_.banner.result.text()
    whole = lessons_.results[-1].outcome.shown.replace("\r\n", "\n")
    assert whole.count("\n") > 3 and whole in result, result  # as `cslab run` prints it
    assert "Received: from client.lab.test" in result and "\r" not in result, result
    assert shown("Mailbox server (POP3)", window.servers)
    task = spawn(window.lessons.open("05-ftp"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    lessons_.next_action.trigger()
    qtbot.waitUntil(lambda: len(lessons_.results) == 1, timeout=WAIT * 2)
    result = lessons_.banner.result.text()
    assert all(name in result for name in ("notes", "gradient.png", "README.txt")), result
