"""Server panels show the servers' live data from the ServerState events alone: a
lesson run on the engine (as the window's Next step does, through client_act) changes
the mailboxes, the notes table and the chat room, and the panels follow; the DNS
server panel edits its zone with server commands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lab.engine import Engine
from lab.model import NodeState
from lab.scenario import lessons_dir, load
from lab.scenario_run import Runner
from tests.ui.helpers import add_panel, click, no_dialogs
from ui.engine_thread import EngineThread
from ui.mainwindow import MainWindow
from ui.panels.dns_server import DnsServerPanel
from ui.panels.http_server import HttpServerPanel
from ui.panels.mail_server import Pop3ServerPanel, SmtpServerPanel
from ui.panels.ws_server import WsServerPanel

WAIT = 15000
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def on_engine(qtbot, lab: EngineThread,  # type: ignore[no-untyped-def]
              fn: Callable[[Engine], Coroutine[Any, Any, T]]) -> T:
    """Run ``fn(engine)`` on the engine's loop while the Qt thread keeps going."""
    future: Future[T] = asyncio.run_coroutine_threadsafe(fn(lab.engine), lab.loop)
    qtbot.waitUntil(future.done, timeout=WAIT)
    return future.result()


def lesson_steps(number: int, steps: int | None = None) -> Callable[
        [Engine], Coroutine[Any, Any, Runner]]:
    """Set lesson ``number`` up and run its first ``steps`` steps (all: None)."""
    async def walk(engine: Engine) -> Runner:
        runner = Runner(load(next(lessons_dir().glob(f"{number:02d}-*.toml"))), engine)
        await runner.setup()
        for index in range(len(runner.scenario.steps) if steps is None else steps):
            result = await runner.step(index)
            assert result.passed, [str(c) for c in result.checks]
        return runner
    return walk


def panel_of(window: MainWindow, node_id: str, cls: type[T]) -> T:
    panel = window.panels.get(node_id)
    assert isinstance(panel, cls), panel
    return panel


def test_lesson_4_mail_shows_in_both_mail_server_panels(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, qtmodeltester, lab: EngineThread) -> None:
    runner = on_engine(qtbot, lab, lesson_steps(4, 1))  # Ann sends her mail to Bob
    smtp_id, pop3_id = runner.server_ids.values()
    qtbot.waitUntil(lambda: smtp_id in window.panels and pop3_id in window.panels,
                    timeout=WAIT)
    smtp = panel_of(window, smtp_id, SmtpServerPanel)
    pop3 = panel_of(window, pop3_id, Pop3ServerPanel)
    for panel in (smtp, pop3):
        qtbot.waitUntil(lambda p=panel: p.model.subjects() == ["Lesson 4"], timeout=WAIT)
        qtmodeltester.check(panel.model)
        row = [panel.model.index(0, c).data() for c in range(panel.model.columnCount())]
        assert row[:4] == ["bob", "ann@lab.test", "bob@lab.test", "Lesson 4"]
        assert panel.mailboxes_label.text() == "Mailboxes, live:"
    assert "@lab.test" in smtp.domain_label.text()
    assert pop3.password_edit.text() == "lab"
    assert Path(pop3.facts["root"]).name == "mail"

    assert on_engine(qtbot, lab, lambda _: runner.step(2)).passed  # Bob reads it: it stays
    assert pop3.model.subjects() == ["Lesson 4"]
    assert smtp.message_window is None
    task = asyncio.ensure_future(smtp.open_message(0))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() and smtp.message_window is not None
    assert "Hello Bob, this travelled by SMTP." in smtp.message_window.view.body()
    smtp.message_window.close()

    click(qtbot, smtp.start_button)  # Stop: its live data goes
    qtbot.waitUntil(lambda: smtp.info.state is NodeState.STOPPED
                    and smtp.model.rowCount() == 0, timeout=WAIT)
    assert "while the server runs" in smtp.mailboxes_label.text()
    assert pop3.model.subjects() == ["Lesson 4"]  # the other server still runs
    on_engine(qtbot, lab, lambda _: runner.teardown())
    assert no_dialogs()


def test_lesson_8_post_shows_in_the_notes_table(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, qtmodeltester, lab: EngineThread) -> None:
    runner = on_engine(qtbot, lab, lesson_steps(8, 1))  # POST /api/notes
    (server_id,) = runner.server_ids.values()
    qtbot.waitUntil(lambda: server_id in window.panels, timeout=WAIT)
    server = panel_of(window, server_id, HttpServerPanel)
    qtbot.waitUntil(lambda: "Lesson 8" in server.notes_model.titles(), timeout=WAIT)
    qtmodeltester.check(server.notes_model)
    assert "(live)" in server.notes_label.text() and "Site folder" in server.site_label.text()
    on_engine(qtbot, lab, lambda _: runner.step(3))  # DELETE
    qtbot.waitUntil(lambda: "Lesson 8" not in server.notes_model.titles(), timeout=WAIT)
    assert server.notes_model.rowCount() >= 1  # the seeded notes stay
    on_engine(qtbot, lab, lambda _: runner.teardown())


def test_lesson_7_chat_server_shows_both_members(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, lab: EngineThread) -> None:
    runner = on_engine(qtbot, lab, lesson_steps(7))
    (server_id,) = runner.server_ids.values()
    qtbot.waitUntil(lambda: server_id in window.panels, timeout=WAIT)
    server = panel_of(window, server_id, WsServerPanel)
    qtbot.waitUntil(lambda: len(server.members()) == 2, timeout=WAIT)
    qtbot.waitUntil(lambda: server.room_label.text() == "In the room: 2 · messages: 3",
                    timeout=WAIT)
    on_engine(qtbot, lab, lambda _: runner.teardown())


def test_dns_server_panel_shows_and_edits_its_zone(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, lab: EngineThread) -> None:
    server = add_panel(window, qtbot, "server", "dns", DnsServerPanel)
    qtbot.waitUntil(lambda: "www.lab.test" in server.model.names(), timeout=WAIT)
    server.name_edit.setText("shop")
    server.type_combo.setCurrentText("A")
    server.value_edit.setText("127.0.0.9")
    click(qtbot, server.add_button)
    qtbot.waitUntil(lambda: "shop.lab.test" in server.model.names(), timeout=WAIT)
    assert server.value_edit.text() == "" and not server.error_text
    # An edit by a server command from elsewhere (a script, the CLI) shows too.
    added = on_engine(qtbot, lab, lambda e: e.server_do(server.node_id, "add", "blog",
                                                        "CNAME", "www"))
    assert added.ok
    qtbot.waitUntil(lambda: "blog.lab.test" in server.model.names(), timeout=WAIT)
    server.value_edit.setText("300.1.2.3")
    click(qtbot, server.add_button)
    qtbot.waitUntil(lambda: "not a valid A value" in server.error_text, timeout=WAIT)
    click(qtbot, server.start_button)  # Stop: no zone to show or edit
    qtbot.waitUntil(lambda: server.model.rowCount() == 0, timeout=WAIT)
    server.value_edit.setText("127.0.0.8")
    click(qtbot, server.add_button)
    qtbot.waitUntil(lambda: "stopped" in server.error_text, timeout=WAIT)
    click(qtbot, server.start_button)  # Start: the zone again, edits kept
    qtbot.waitUntil(lambda: "blog.lab.test" in server.model.names(), timeout=WAIT)
    assert no_dialogs()
