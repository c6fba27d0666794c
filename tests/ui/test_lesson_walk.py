"""Every built-in lesson, walked through the window as a teacher does: open it, press
Next step to the end. After each step the panel the step names shows what the step
did, and every client panel's fields show the settings the lesson file gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.scenario import ClientSpec, Scenario, Step, lessons, load
from lab.scenario_run import StepResult
from tests.ui.panel_text import checked, panel_text
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.panels import NodePanel

WAIT = 30000
LESSONS = [path.stem for _, path in lessons()]
PAGE = re.compile(r"“(?P<title>[^”]*)”: (?P<requests>\d+) requests")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def expected(kind: str, step: Step, result: StepResult) -> list[str]:
    """What the panel of a ``kind`` client must show after ``step`` gave ``result``."""
    outcome = result.outcome
    if not outcome.ok:
        return [outcome.shown.splitlines()[0][:60]]  # the error, inline
    values = outcome.values
    if kind == "browser":
        page = PAGE.search(outcome.shown)
        assert page is not None, outcome.shown
        return [page["title"], f"{page['requests']} requests"]
    if kind == "http":
        return [str(values["status"]), step.args[0].split("{")[0]]
    if kind == "smtp":
        return [str(values["reply"])]
    if kind == "pop3" and step.verb == "list":
        return [line.split(" — ", 1)[1] for line in values["text"].splitlines()]
    if kind == "pop3":  # retr: the body of the message read
        return [values["text"].replace("\r\n", "\n").rstrip().splitlines()[-1]]
    if kind == "ftp" and step.verb == "retr":
        return [step.args[0], "download"]
    if kind == "ftp":
        return [line.split()[-1] for line in values["text"].splitlines()]
    if kind == "dns":
        return [values["rcode"], *(["127.0.0.1"] if "127.0.0.1" in values["text"] else [])]
    if kind == "ws":
        return [step.args[0]]
    if kind == "echo":
        return [step.args[0]] + ([values["reply"]] if values.get("reply") else [])
    raise AssertionError(f"no expectation for {kind}")


def settings_shown(panel: NodePanel, spec: ClientSpec, address: str) -> list[str]:
    """The lesson's settings for ``spec`` that ``panel`` does not show (empty: all)."""
    text = panel_text(panel)
    missing = [] if address in text else [f"server {address}"]
    for name, value in spec.options.items():
        if isinstance(value, bool) or value in ("true", "false"):  # a check box
            if checked(panel, name) is not (value in (True, "true")):
                missing.append(f"{name} = {value}")
        elif name != "dns" and str(value) not in text:  # dns names a server: its address
            missing.append(f"{name} = {value}")
    return missing


def panels_by_name(window: MainWindow) -> dict[str, NodePanel]:
    return {panel.info.name: panel for panel in window.panels.values()}


def walk(window: MainWindow, qtbot, name: str) -> Scenario:  # type: ignore[no-untyped-def]
    lessons_ = window.lessons
    task = spawn(lessons_.open(name))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True, lessons_.text.text()
    scenario = lessons_.scenario
    assert scenario is not None
    runner = lessons_.runner
    assert runner is not None
    names = [c.name for c in scenario.clients] + [s.name for s in scenario.servers]
    qtbot.waitUntil(lambda: set(names) <= set(panels_by_name(window)), timeout=WAIT)
    for spec in scenario.clients:  # the lesson's settings, before any step
        panel = panels_by_name(window)[spec.name]
        address = runner.addresses[spec.server]
        try:
            qtbot.waitUntil(lambda p=panel, s=spec, a=address: not settings_shown(p, s, a),
                            timeout=WAIT)
        except Exception:  # pytest-qt's TimeoutError: say what is missing
            raise AssertionError(f"{name}: panel {spec.name!r} does not show "
                                 f"{settings_shown(panel, spec, address)}; it shows:\n"
                                 f"{panel_text(panel)}") from None
    kinds = {spec.name: spec.kind for spec in scenario.clients}
    in_room: set[str] = set()  # chat clients that joined (at their first step)
    for number, step in enumerate(scenario.steps, 1):
        lessons_.next_action.trigger()
        qtbot.waitUntil(lambda n=number: len(lessons_.results) == n, timeout=WAIT)
        result = lessons_.results[-1]
        assert result.passed, (name, number, [str(c) for c in result.checks])
        panel = panels_by_name(window)[step.client]
        want = expected(kinds[step.client], step, result)

        def shows(p: NodePanel = panel, w: list[str] = want) -> bool:
            text = panel_text(p).lower()
            return all(piece.lower() in text for piece in w)

        try:
            qtbot.waitUntil(shows, timeout=WAIT)
        except Exception:  # pytest-qt's TimeoutError: say what is missing
            raise AssertionError(f"{name} step {number}: panel {step.client!r} does not "
                                 f"show {want!r}; it shows:\n{panel_text(panel)}") from None
        if kinds[step.client] == "ws":  # a chat line reaches every member of the room
            in_room.add(step.client)
            for other in in_room - {step.client}:
                qtbot.waitUntil(lambda o=other, w=step.args[0]: w in panel_text(
                    panels_by_name(window)[o]), timeout=WAIT)
    for spec in scenario.clients:  # the steps kept the lesson's settings in view
        panel = panels_by_name(window)[spec.name]
        assert not settings_shown(panel, spec, runner.addresses[spec.server]), spec.name
    return scenario


@pytest.mark.parametrize("name", LESSONS)
def test_each_step_shows_in_the_panel_that_did_it(window: MainWindow, qtbot,  # type: ignore[no-untyped-def]
                                                  name: str) -> None:
    scenario = walk(window, qtbot, name)
    assert scenario.title == load(name).title
    assert "The lesson is done." in window.lessons.text.text()
