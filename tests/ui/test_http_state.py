"""The HTTP panels show the engine's state, whoever acted: a lesson's steps run
through ``Engine.client_act`` (as lab/scenario_run.Runner runs them) show in the
mini browser and the request composer as a click would, and the settings given
when a client is made fill their fields."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lab.scenario import load
from lab.scenario_run import Runner
from ui.engine_thread import EngineThread
from ui.mainwindow import MainWindow
from ui.panels.base import NodePanel
from ui.panels.http_browser import HttpBrowserPanel
from ui.panels.http_composer import HttpComposerPanel

WAIT = 15000
LESSON = Path(__file__).parents[2] / "resources" / "lessons" / "01-first-request.toml"


def panel_of(window: MainWindow, qtbot: Any, node_id: str, cls: type) -> Any:
    qtbot.waitUntil(lambda: isinstance(window.panels.get(node_id), cls), timeout=WAIT)
    panel: NodePanel = window.panels[node_id]
    return panel


def test_lesson_one_shows_in_the_browser_and_the_composer(  # type: ignore[no-untyped-def]
        window: MainWindow, lab: EngineThread, qtbot, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    runner = Runner(load(LESSON), lab.engine)
    lab.run(runner.setup)
    browser = panel_of(window, qtbot, runner.client_ids["Browser"], HttpBrowserPanel)
    composer = panel_of(window, qtbot, runner.client_ids["Request composer"],
                        HttpComposerPanel)
    server = runner.addresses["Web server"]

    assert lab.run(runner.step, 0).passed  # open /index.html
    qtbot.waitUntil(lambda: "= 4 requests" in browser.requests_label.text(), timeout=WAIT)
    assert "1 page + 3 resources = 4 requests" in browser.requests_label.text()
    assert "Hello from the lab's web server" in browser.page_text()
    assert browser.describe(browser.info) == "200 OK · Welcome to the Client-Server Lab"
    assert browser.state_label.text() == browser.describe(browser.info)
    assert browser.address.text() == f"http://{server}/index.html"
    assert browser.reload_button.isEnabled() and not browser.back_button.isEnabled()

    assert lab.run(runner.step, 1).passed  # get /index.html
    qtbot.waitUntil(lambda: "200 OK" in composer.status_label.text(), timeout=WAIT)
    assert composer.tabs.currentIndex() == 1  # the Response tab
    assert "<html" in composer.body_view.text()
    assert composer.method_combo.currentText() == "GET"
    assert composer.url_combo.currentText() == f"http://{server}/index.html"

    assert lab.run(runner.step, 2).passed  # get /no-such-page.html
    qtbot.waitUntil(lambda: "404 Not Found" in composer.status_label.text(), timeout=WAIT)
    assert composer.status_label.property("tone") == "warn"
    assert composer.url_combo.currentText() == f"http://{server}/no-such-page.html"
    assert composer.state_label.text() == "last: GET → 404 Not Found"
    assert [composer.history_list.item(r).text() for r in range(2)] == [
        f"GET http://{server}/index.html  → 200",
        f"GET http://{server}/no-such-page.html  → 404"]
    lab.run(runner.teardown)


def test_settings_given_to_a_new_client_fill_the_fields(  # type: ignore[no-untyped-def]
        window: MainWindow, lab: EngineThread, qtbot) -> None:
    composer_info = lab.run(lab.engine.add_client, "http", settings={
        "method": "PUT", "url": "http://www.lab.test:8080/api/notes/1",
        "headers": "Accept: application/json\nX-Lab: yes", "body": '{"title": "x"}',
        "mode": "JSON", "dns": "127.0.0.1:5353"})
    composer = panel_of(window, qtbot, composer_info.id, HttpComposerPanel)
    qtbot.waitUntil(lambda: composer.method_combo.currentText() == "PUT", timeout=WAIT)
    assert composer.url_combo.currentText() == "http://www.lab.test:8080/api/notes/1"
    assert composer.headers() == [("Accept", "application/json"), ("X-Lab", "yes")]
    assert composer.body_edit.toPlainText() == '{"title": "x"}'
    assert composer.mode_combo.currentText() == "JSON"
    assert composer.look_up.check.isChecked()
    assert composer.look_up.server() == "127.0.0.1:5353"
    assert composer.form()["headers"] == "Accept: application/json\nX-Lab: yes"

    lesson_info = lab.run(lab.engine.add_client, "http", settings={
        "server": "127.0.0.1:8081", "host": "www.lab.test"})  # as lesson 6 makes it
    lesson = panel_of(window, qtbot, lesson_info.id, HttpComposerPanel)
    qtbot.waitUntil(lambda: lesson.url_combo.currentText() == "http://www.lab.test:8081/",
                    timeout=WAIT)
    assert lesson.target_label.text() == "Server 127.0.0.1:8081, named www.lab.test"
    assert not lesson.target_label.isHidden()

    browser_info = lab.run(lab.engine.add_client, "browser",
                           settings={"url": "http://127.0.0.1:9/start.html"})
    browser = panel_of(window, qtbot, browser_info.id, HttpBrowserPanel)
    qtbot.waitUntil(lambda: browser.address.text() == "http://127.0.0.1:9/start.html",
                    timeout=WAIT)
    assert browser.describe(browser.info) == "no page loaded"


def test_a_send_from_the_engine_shows_like_a_click(  # type: ignore[no-untyped-def]
        window: MainWindow, lab: EngineThread, qtbot) -> None:
    info = lab.run(lab.engine.add_client, "http")
    composer = panel_of(window, qtbot, info.id, HttpComposerPanel)
    lab.run(lab.engine.client_act, info.id, "send", (),
            settings={"method": "GET", "url": "ftp://nowhere/"})
    qtbot.waitUntil(lambda: "only http://" in composer.error_text, timeout=WAIT)
    assert composer.url_combo.currentText() == "ftp://nowhere/"
    assert "failed" in composer.status_label.text()
    assert composer.history_list.count() == 1
    assert composer.state_label.text() == "last request failed (GET)"


def test_a_late_state_leaves_what_the_user_typed(  # type: ignore[no-untyped-def]
        window: MainWindow, lab: EngineThread, qtbot) -> None:
    info = lab.run(lab.engine.add_client, "http")
    composer = panel_of(window, qtbot, info.id, HttpComposerPanel)
    qtbot.waitUntil(lambda: composer.state is not None, timeout=WAIT)
    composer.method_combo.setEditText("POST")
    composer.look_up.check.setChecked(True)
    composer.body_edit.setPlainText("typed")
    # the engine's state, unchanged, arriving again (a late batch, a busy flag)
    composer.update_state(replace(composer.state, revision=composer.state.revision + 1))
    assert composer.method_combo.currentText() == "POST"
    assert composer.look_up.check.isChecked() and composer.body_edit.toPlainText() == "typed"
    # a setting the engine changes is shown, though
    lab.run(lab.engine.configure_client, info.id, method="DELETE")
    qtbot.waitUntil(lambda: composer.method_combo.currentText() == "DELETE", timeout=WAIT)
    assert composer.body_edit.toPlainText() == "typed"
