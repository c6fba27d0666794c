"""ui/views/lessons.py: a lesson opened from the Lesson menu sets up its panels, and
Next step runs its steps one by one with the presenter's text shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from lab.scenario import lessons_dir
from tests.ui.helpers import click
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.views.lessons import DISCARD, SAVE

WAIT = 20000


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def test_a_lesson_sets_up_panels_and_steps_through(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    lessons = window.lessons
    assert not lessons.next_action.isEnabled()
    task = spawn(lessons.open("01-first-request"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True
    qtbot.waitUntil(lambda: len(window.servers.panels()) == 1
                    and len(window.clients.panels()) == 2, timeout=WAIT)
    assert "1. A first request" in lessons.text.text()
    assert lessons.next_action.isEnabled() and lessons.bar.isVisible()
    for number in (1, 2, 3):
        lessons.next_action.trigger()
        qtbot.waitUntil(lambda n=number: len(lessons.results) == n
                        and lessons.next_action.isEnabled() == (n < 3), timeout=WAIT)
    assert all(result.passed for result in lessons.results)
    assert "404" in lessons.text.text() and "The lesson is done." in lessons.text.text()
    assert window.model.rowCount() >= 6  # the conversation is in the inspector too


def test_an_invalid_scenario_says_why_in_the_bar(window: MainWindow, qtbot,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\ntitle = "x"\n\n[[server]]\nkind = "gopher"\n')
    task = spawn(window.lessons.open(str(bad)))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is False
    assert "[[server]] #1 field 'kind'" in window.lessons.text.text()
    assert not window.lessons.next_action.isEnabled()


def _stepping_lesson(tmp_path: Path, server: str = "") -> str:
    """Lesson 1 with ``[wire] step = true`` (on ``server``'s Wire alone if given)."""
    wire = "[wire]\nstep = true\n" + (f'server = "{server}"\n' if server else "")
    text = (lessons_dir() / "01-first-request.toml").read_text()
    path = tmp_path / "stepping.toml"
    path.write_text(text.replace("[[step]]", f"{wire}\n[[step]]", 1))
    return str(path)


def test_a_lesson_with_wire_step_turns_step_mode_on_for_every_wire(
        window: MainWindow, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lessons, controls = window.lessons, window.wire_controls
    assert not controls.step_action.isChecked()
    task = spawn(lessons.open(_stepping_lesson(tmp_path)))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True
    assert controls.step_action.isChecked()
    assert window.lab.engine.wire_board.stepping(None)
    assert "Step mode is on for every Wire" in lessons.text.text()

    lessons.next_action.trigger()  # the browser's request waits at the Wire

    def forward_until_done() -> bool:
        if controls.bar.isVisible():
            controls.bar.forward_all_button.click()
        return len(lessons.results) == 1

    qtbot.waitUntil(lambda: controls.bar.isVisible(), timeout=WAIT)
    assert not lessons.results  # held: the step waits for the presenter
    qtbot.waitUntil(forward_until_done, timeout=WAIT)
    assert lessons.results[0].passed
    controls.step_action.setChecked(False)
    qtbot.waitUntil(lambda: not window.lab.engine.wire_board.stepping(None), timeout=WAIT)


def test_a_lesson_with_wire_step_on_one_server_steps_that_wire_alone(
        window: MainWindow, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lessons, controls = window.lessons, window.wire_controls
    task = spawn(lessons.open(_stepping_lesson(tmp_path, "Web server")))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True
    assert lessons.runner is not None
    server = lessons.runner.server_ids["Web server"]
    board = window.lab.engine.wire_board
    assert board.stepping(server) and not board.stepping(None)
    assert not controls.step_action.isChecked()
    assert "Web server's Wire" in lessons.text.text()
    spawn(controls.set_step(server, False))
    qtbot.waitUntil(lambda: not window.lab.engine.wire_board.stepping(server), timeout=WAIT)


def test_a_lesson_without_wire_step_leaves_step_mode_off(
        window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    task = spawn(window.lessons.open("01-first-request"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert not window.wire_controls.step_action.isChecked()
    assert not window.lab.engine.wire_board.stepping(None)
    assert "Step mode" not in window.lessons.text.text()


def test_save_setup_as_scenario_writes_a_file_that_loads(window: MainWindow, qtbot,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.scenario import load

    task = spawn(window.lessons.open("01-first-request"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True
    target = tmp_path / "mine"  # the .toml is added
    monkeypatch.setattr("ui.views.lessons.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(target), ""))
    window.lessons.save_action.trigger()
    saved = tmp_path / "mine.toml"
    qtbot.waitUntil(lambda: "Saved the setup" in window.statusBar().currentMessage(),
                    timeout=WAIT)
    scenario, lesson = load(saved), load("01-first-request")
    assert [(s.kind, s.name) for s in scenario.servers] == \
        [(s.kind, s.name) for s in lesson.servers]
    assert [(c.kind, c.name) for c in scenario.clients] == \
        [(c.kind, c.name) for c in lesson.clients]

    monkeypatch.setattr("ui.views.lessons.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(tmp_path / "no-dir" / "x.toml"), ""))
    window.lessons.save_action.trigger()
    qtbot.waitUntil(lambda: "Cannot save the setup" in window.statusBar().currentMessage(),
                    timeout=WAIT)


def test_opening_another_lesson_replaces_the_last_ones_panels(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    lessons = window.lessons
    window.server_actions["tcp-echo"].trigger()  # the user's own server stays through it all
    qtbot.waitUntil(lambda: len(window.servers.panels()) == 1, timeout=WAIT)
    mine = window.servers.panels()[0].node_id

    def opened(name: str) -> None:
        task = spawn(lessons.open(name))
        qtbot.waitUntil(task.done, timeout=WAIT)
        assert task.result() is True, lessons.text.text()

    opened("03-many-servers")  # two servers, the second on a fixed port
    first = (3, len(lessons.runner.client_ids) if lessons.runner else 0)
    qtbot.waitUntil(lambda: (len(window.servers.panels()), len(window.clients.panels()))
                    == first, timeout=WAIT)
    opened("01-first-request")
    qtbot.waitUntil(lambda: len(window.servers.panels()) == 2
                    and len(window.clients.panels()) == 2, timeout=WAIT)
    opened("03-many-servers")  # its fixed port is free again: no clash
    qtbot.waitUntil(lambda: (len(window.servers.panels()), len(window.clients.panels()))
                    == first, timeout=WAIT)
    assert mine in [panel.node_id for panel in window.servers.panels()]


def test_the_lesson_menu_lists_every_built_in_lesson_when_shown(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    menu = window.lessons.menu
    menu.aboutToShow.emit()
    menu.aboutToShow.emit()  # listed once, not twice
    titles = [action.text() for action in menu.actions() if not action.isSeparator()]
    count = len(list(lessons_dir().glob("*.toml")))
    assert titles[:count][0].startswith("1.") and len(titles) == count + 3
    assert titles[count:] == ["Restart lesson", "Open scenario…", "Save setup as scenario…"]
    menu.actions()[0].trigger()  # the first lesson opens from its menu entry
    qtbot.waitUntil(lambda: "1. A first request" in window.lessons.text.text(), timeout=WAIT)


def test_two_lessons_opened_at_once_leave_only_the_second(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    lessons = window.lessons
    first = spawn(lessons.open("03-many-servers"))
    second = spawn(lessons.open("03-many-servers"))  # picked again before the first is up
    qtbot.waitUntil(lambda: first.done() and second.done(), timeout=WAIT)
    assert first.result() is True and second.result() is True, lessons.text.text()
    qtbot.waitUntil(lambda: len(window.servers.panels()) == 2, timeout=WAIT)


def _open(window: MainWindow, qtbot, name: str) -> bool:  # type: ignore[no-untyped-def]
    task = spawn(window.lessons.open(name))
    qtbot.waitUntil(task.done, timeout=WAIT)
    return bool(task.result())


def _steps(window: MainWindow, qtbot, count: int) -> None:  # type: ignore[no-untyped-def]
    lessons = window.lessons
    for _ in range(count):
        done = len(lessons.results) + 1
        qtbot.waitUntil(lessons.next_action.isEnabled, timeout=WAIT)
        lessons.next_action.trigger()
        qtbot.waitUntil(lambda n=done: len(lessons.results) == n, timeout=WAIT)


def _answer(window: MainWindow, answer: str) -> list[int]:
    """Answer "Save the capture first?" with ``answer``; the message counts asked about."""
    asked: list[int] = []

    async def confirm(count: int) -> str:
        asked.append(count)
        return answer

    window.lessons.confirm = confirm
    return asked


def _inspected(window: MainWindow, qtbot, text: str) -> None:  # type: ignore[no-untyped-def]
    """Filter the inspector by ``text`` and select its first row (details shown)."""
    inspector = window.inspector
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT)
    inspector.filter_edit.setText(text)
    qtbot.waitUntil(lambda: inspector.proxy.rowCount() > 0, timeout=WAIT)
    inspector.table.selectRow(0)
    assert inspector.selected_message() is not None
    assert inspector.fields.rowCount() > 0
    assert window.diagram.lanes()


def _clean(window: MainWindow) -> bool:
    inspector = window.inspector
    return (window.model.rowCount() == 0 and inspector.filter_edit.text() == ""
            and inspector.proxy.filter_text == "" and inspector.selected_message() is None
            and inspector.fields.rowCount() == 0 and window.diagram.lanes() == []
            and window.diagram.row_count() == 0 and window.wire_hint.isVisibleTo(window))


def test_switching_lessons_starts_clean(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    asked = _answer(window, DISCARD)
    assert _open(window, qtbot, "01-first-request")
    assert asked == []  # nothing captured yet: nothing to ask
    _steps(window, qtbot, 1)
    _inspected(window, qtbot, "GET")
    assert _open(window, qtbot, "04-mail")
    assert len(asked) == 1 and asked[0] > 0
    qtbot.waitUntil(lambda: _clean(window), timeout=WAIT)
    assert "0 messages" in window.status.text()
    qtbot.waitUntil(lambda: len(window.servers.panels()) == 2
                    and len(window.clients.panels()) == 2, timeout=WAIT)
    _steps(window, qtbot, 1)  # the new lesson's messages count from 1 again
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT)
    assert window.model.message(0).id == 1
    assert {window.model.message(r).protocol for r in range(window.model.rowCount())} \
        == {"smtp"}
    assert window.lessons.results[0].passed


def test_cancel_at_save_first_keeps_everything(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    lessons = window.lessons
    assert _open(window, qtbot, "01-first-request")
    _steps(window, qtbot, 1)
    _inspected(window, qtbot, "GET")
    rows, shown = window.model.rowCount(), window.inspector.proxy.rowCount()
    selected = window.inspector.selected_message()
    panels = {panel.node_id for panel in window.panels.values()}
    task = spawn(lessons.open("04-mail"))  # the real question, answered with Cancel

    def asking() -> QMessageBox | None:
        box = window.findChild(QMessageBox, "save-first")
        return box if isinstance(box, QMessageBox) and box.isVisible() else None

    qtbot.waitUntil(lambda: asking() is not None, timeout=WAIT)
    box = asking()
    assert box is not None and "Save the capture first?" in box.text()
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is False
    assert lessons.scenario is not None and lessons.scenario.title.startswith("1.")
    assert len(lessons.results) == 1 and lessons.next_action.isEnabled()
    assert window.model.rowCount() >= rows and window.inspector.proxy.rowCount() >= shown
    assert window.inspector.filter_edit.text() == "GET"
    assert window.inspector.selected_message() == selected
    assert {panel.node_id for panel in window.panels.values()} == panels
    assert window.lab.engine.capture.messages


def test_save_first_saves_the_capture_then_clears_it(window: MainWindow, qtbot,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    from lab.store import load

    assert _open(window, qtbot, "01-first-request")
    _steps(window, qtbot, 1)
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT)
    asked = _answer(window, SAVE)
    target = tmp_path / "before.cslab"

    async def save_path() -> str:
        return str(target)

    window.lessons.save_path = save_path
    assert _open(window, qtbot, "04-mail")
    saved = load(target)
    assert asked and len(saved.messages) == asked[0]
    assert any(m.summary.startswith("GET") for m in saved.messages)
    qtbot.waitUntil(lambda: _clean(window), timeout=WAIT)

    async def nowhere() -> str:
        return ""  # the user closed the file dialog: as Cancel

    _steps(window, qtbot, 1)
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT)
    window.lessons.save_path = nowhere
    assert not _open(window, qtbot, "01-first-request")
    assert window.lessons.scenario is not None
    assert window.lessons.scenario.title.startswith("4.") and window.model.rowCount() > 0


def test_restart_lesson_sets_it_up_fresh_from_step_one(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    lessons = window.lessons
    assert not lessons.restart_action.isEnabled()
    asked = _answer(window, DISCARD)
    assert _open(window, qtbot, "04-mail")
    assert lessons.restart_action.isEnabled()
    assert lessons.restart_action.shortcut().toString() == "Ctrl+F6"
    assert "Ctrl+F6" in lessons.restart_action.toolTip()
    _steps(window, qtbot, 2)
    assert "1 message(s)" in lessons.results[1].outcome.shown
    before = lessons.runner
    lessons.restart_action.trigger()
    qtbot.waitUntil(lambda: lessons.runner is not before and not lessons.results
                    and lessons.next_action.isEnabled(), timeout=WAIT)
    assert asked and lessons.position == 0
    qtbot.waitUntil(lambda: _clean(window), timeout=WAIT)
    qtbot.waitUntil(lambda: len(window.servers.panels()) == 2
                    and len(window.clients.panels()) == 2, timeout=WAIT)
    _steps(window, qtbot, 2)  # fresh mail folder: the mail did not pile up
    assert all(result.passed for result in lessons.results)
    assert "1 message(s)" in lessons.results[1].outcome.shown
    assert window.model.message(0).id == 1


def test_next_step_scrolls_the_clients_column_to_the_panel_doing_the_step(
        window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.resize(1280, 720)
    lessons = window.lessons
    task = spawn(lessons.open("04-mail"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    qtbot.waitUntil(lambda: len(window.panels) == 4, timeout=WAIT)
    by_name = {p.info.name: p for p in window.panels.values()}
    ann, bob = by_name["Ann's mail program"], by_name["Bob's mail program"]
    column = window.clients.scroll_area

    def in_view(panel) -> bool:  # type: ignore[no-untyped-def]
        top = panel.mapTo(column.viewport(), panel.rect().topLeft()).y()
        return 0 <= top < column.viewport().height()

    for number, panel in ((1, ann), (2, bob)):
        lessons.next_action.trigger()
        qtbot.waitUntil(lambda n=number: len(lessons.results) == n, timeout=WAIT)
        qtbot.waitUntil(lambda p=panel: in_view(p), timeout=WAIT)
