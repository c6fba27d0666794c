"""The mail composer and the mailbox reader show the engine's state: the settings a
client was made with or a lesson gave, and what a lesson step (engine.client_act, as
the lesson runner calls it) did, exactly as a click would show it."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import Qt

from lab.scenario import load
from lab.scenario_run import Runner
from tests.ui.helpers import click, no_dialogs
from ui.engine_thread import EngineThread, spawn
from ui.mainwindow import MainWindow
from ui.panels.base import NodePanel
from ui.panels.mail_composer import MailComposerPanel
from ui.panels.mail_reader import MailReaderPanel

WAIT = 15000
T = TypeVar("T")
P = TypeVar("P", bound=NodePanel)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def wait(qtbot, coro: Coroutine[Any, Any, T]) -> T:  # type: ignore[no-untyped-def]
    """Run ``coro`` on the Qt loop and wait for its result."""
    task = spawn(coro)
    qtbot.waitUntil(task.done, timeout=WAIT)
    result: T = task.result()
    return result


def on_engine(lab: EngineThread, qtbot, fn: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    """Run ``fn(*args, **kwargs)`` on the engine's loop (as a lesson does) and wait."""
    async def call() -> Any:
        return await lab.call(fn, *args, **kwargs)
    return wait(qtbot, call())


def panel_of(window: MainWindow, qtbot, node_id: str, cls: type[P]) -> P:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: isinstance(window.panels.get(node_id), cls), timeout=WAIT)
    panel = window.panels[node_id]
    assert isinstance(panel, cls)
    qtbot.waitUntil(lambda: panel.state is not None, timeout=WAIT)
    return panel


def cells(panel: MailReaderPanel) -> list[list[str]]:
    model = panel.model
    return [[str(model.index(r, c).data()) for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def test_lesson_4_shows_in_ann_s_and_bob_s_panels(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Lesson 4's steps run through engine.client_act: Ann's composer shows the
    lesson's from/to/subject/body and the 250; Bob's reader (user bob, not the
    default ann) lists "Lesson 4" and shows its body after retr 1."""
    lab = window.lab
    runner = Runner(load("04-mail"), lab.engine)
    on_engine(lab, qtbot, runner.setup)
    ann = panel_of(window, qtbot, runner.client_ids["Ann's mail program"], MailComposerPanel)
    bob = panel_of(window, qtbot, runner.client_ids["Bob's mail program"], MailReaderPanel)
    qtbot.waitUntil(lambda: ann.subject_edit.text() == "Lesson 4", timeout=WAIT)
    assert (ann.from_edit.text(), ann.to_edit.text()) == ("ann@lab.test", "bob@lab.test")
    assert ann.body_edit.toPlainText() == "Hello Bob, this travelled by SMTP."
    assert ann.server_combo.address() == runner.addresses["Mail server (SMTP)"]
    assert ann.result_text() == "Not sent yet." and ann.state_label.text() == "nothing sent yet"
    assert bob.user_edit.text() == "bob" and bob.password_edit.text() == "lab"
    assert bob.server_combo.address() == runner.addresses["Mailbox server (POP3)"]
    assert not bob.is_open and bob.state_label.text() == "mailbox closed"

    for number in range(len(runner.scenario.steps)):
        result = on_engine(lab, qtbot, runner.step, number)
        assert result.passed, (result.outcome.shown, result.checks)
        if number == 0:
            qtbot.waitUntil(lambda: ann.result_text().startswith("250 "), timeout=WAIT)
            assert ann.state_label.text() == "1 sent" and ann.send_button.isEnabled()
        if number == 1:
            qtbot.waitUntil(lambda: bob.model.rowCount() == 1, timeout=WAIT)
            assert cells(bob)[0][:3] == ["1", "ann@lab.test", "Lesson 4"]
            assert bob.is_open and bob.open_button.text() == "Close"
            assert bob.state_label.text() == "bob: 1 message"
            assert bob.status_label.text().startswith("1 message, ")
            assert not bob.view.body() and not bob.user_edit.isEnabled()
    qtbot.waitUntil(lambda: "Hello Bob, this travelled by SMTP." in bob.view.body(),
                    timeout=WAIT)
    assert "Lesson 4" in bob.view.headers_text() and "ann@lab.test" in bob.view.headers_text()
    assert bob.selected_number() == 1 and bob.shown_number == 1
    assert not bob.error_text and not ann.error_text and no_dialogs()
    assert sum(m.raw.startswith(b"LIST") for m in lab.engine.capture.messages) == 1
    on_engine(lab, qtbot, runner.teardown)


def test_settings_given_when_made_show_in_the_fields(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    engine = window.lab.engine
    info = on_engine(window.lab, qtbot, engine.add_client, "pop3",
                     settings={"server": "127.0.0.1:1999", "user": "cy", "password": "pw"})
    reader = panel_of(window, qtbot, info.id, MailReaderPanel)
    assert (reader.server_combo.address(), reader.user_edit.text(),
            reader.password_edit.text()) == ("127.0.0.1:1999", "cy", "pw")
    assert reader.status_label.text().startswith("Mailbox closed")
    info = on_engine(window.lab, qtbot, engine.add_client, "smtp",
                     settings={"from": "dee@lab.test", "to": "cy@lab.test",
                               "subject": "Made so", "body": "Two\nlines"})
    composer = panel_of(window, qtbot, info.id, MailComposerPanel)
    assert (composer.from_edit.text(), composer.to_edit.text(), composer.subject_edit.text(),
            composer.body_edit.toPlainText()) == ("dee@lab.test", "cy@lab.test", "Made so",
                                                  "Two\nlines")
    # A change of settings from elsewhere (a lesson) shows; the user's typing is kept.
    on_engine(window.lab, qtbot, engine.configure_client, info.id, subject="Changed")
    qtbot.waitUntil(lambda: composer.subject_edit.text() == "Changed", timeout=WAIT)
    window.activateWindow()
    composer.to_edit.setFocus()
    qtbot.waitUntil(composer.to_edit.hasFocus, timeout=WAIT)
    qtbot.keyClicks(composer.to_edit, ", ann@lab.test")
    on_engine(window.lab, qtbot, engine.configure_client, info.id, to="eve@lab.test",
              body="Other")
    qtbot.waitUntil(lambda: composer.body_edit.toPlainText() == "Other", timeout=WAIT)
    assert composer.to_edit.text() == "cy@lab.test, ann@lab.test"
    click(qtbot, composer.send_button)  # no SMTP server: said once, in the result line
    qtbot.waitUntil(lambda: composer.last_result is not None, timeout=WAIT)
    result = composer.last_result
    assert result is not None and not result.ok and result.error in composer.result_text()
    assert composer.error_label.isHidden() and no_dialogs()
    assert composer.state_label.text() == "0 sent · the last send failed"
    assert engine.client_state(info.id).setting("to") == "cy@lab.test, ann@lab.test"


def test_buttons_send_the_fields_and_show_what_comes_back(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Send and Open take the fields as the client's settings; the reader reads the
    selected message, marks it deleted (struck out) and closes, all from the state."""
    engine = window.lab.engine
    smtp = on_engine(window.lab, qtbot, engine.add_server, "smtp", port=0)
    pop3 = on_engine(window.lab, qtbot, engine.add_server, "pop3", port=0)
    sender = on_engine(window.lab, qtbot, engine.add_client, "smtp",
                       settings={"server": smtp.address})
    composer = panel_of(window, qtbot, sender.id, MailComposerPanel)
    composer.subject_edit.setText("Typed here")
    composer.to_edit.setText("bob@lab.test, eve@elsewhere.example")
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: composer.last_result is not None, timeout=WAIT)
    assert "refused eve@elsewhere.example: 550" in composer.result_text()
    state = engine.client_state(sender.id)
    assert state.setting("subject") == "Typed here"
    window.activateWindow()
    composer.subject_edit.setFocus()
    qtbot.waitUntil(lambda: composer.subject_edit.hasFocus()
                    and composer.send_button.isEnabled(), timeout=WAIT)
    qtbot.keyClick(composer.subject_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: composer.state_label.text() == "2 sent", timeout=WAIT)

    reader_info = on_engine(window.lab, qtbot, engine.add_client, "pop3",
                            settings={"server": pop3.address})
    reader = panel_of(window, qtbot, reader_info.id, MailReaderPanel)
    assert reader.user_edit.text() == "ann"
    reader.user_edit.setText("bob")
    click(qtbot, reader.open_button)
    qtbot.waitUntil(lambda: reader.model.rowCount() == 2, timeout=WAIT)
    assert engine.client_state(reader_info.id).setting("user") == "bob"
    assert [row[2] for row in cells(reader)] == ["Typed here", "Typed here"]
    reader.table.selectRow(1)
    qtbot.waitUntil(lambda: reader.shown_number == 2, timeout=WAIT)
    assert "Typed here" in reader.view.headers_text()
    click(qtbot, reader.delete_button)
    qtbot.waitUntil(lambda: 2 in reader.model.deleted, timeout=WAIT)
    font = reader.model.index(1, 2).data(Qt.ItemDataRole.FontRole)
    assert font is not None and font.strikeOut()
    assert "QUIT" in reader.status_label.text() and not reader.view.body()
    assert reader.state_label.text() == "bob: 1 message"
    click(qtbot, reader.refresh_button)  # LIST again: the deleted one is not listed
    qtbot.waitUntil(lambda: reader.model.rowCount() == 1, timeout=WAIT)
    click(qtbot, reader.open_button)  # Close: QUIT
    qtbot.waitUntil(lambda: not reader.is_open, timeout=WAIT)
    assert reader.model.rowCount() == 0 and reader.state_label.text() == "mailbox closed"
    assert reader.user_edit.isEnabled() and not reader.error_text and no_dialogs()
