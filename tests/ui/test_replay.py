"""Replay from the inspector's context menu and Ctrl+R, against a real echo server."""

from __future__ import annotations

from PySide6.QtCore import Qt

from lab.model import Message, Sender
from tests.ui.helpers import click, no_dialogs
from tests.ui.test_mainwindow import WAIT, say_hello
from ui.mainwindow import MainWindow


def rows(window: MainWindow) -> list[Message]:
    return [window.model.message(row) for row in range(window.model.rowCount())]


def test_context_menu_replay_adds_the_same_exchange_on_a_new_connection(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    say_hello(window, qtbot)
    inspector = window.inspector
    first = window.model.message(0)
    pos = inspector.table.visualRect(inspector.proxy.index(0, 0)).center()
    menu = inspector.context_menu(pos)
    assert menu is not None and inspector.selected_message() == first
    actions = {a.text(): a for a in menu.actions()}
    assert list(actions) == ["Replay this message", "Replay the whole conversation"]
    assert actions["Replay this message"].shortcut().toString() == "Ctrl+R"

    actions["Replay this message"].trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    request, answer = rows(window)[2:]
    assert request.summary == first.summary and request.raw == first.raw
    assert request.connection != first.connection and request.sender is Sender.CLIENT
    assert answer.sender is Sender.SERVER and answer.raw == b"hello"
    assert request.server == first.server  # through the same Wire
    qtbot.waitUntil(lambda: inspector.selected_message() == request, timeout=WAIT)
    assert window.name_of(request, Sender.CLIENT) == f"Replay of {first.connection}"
    assert window.statusBar().currentMessage().startswith(
        f"Replay of {first.connection} as {request.connection}: sent 1 message")
    assert no_dialogs()


def test_ctrl_r_replays_and_a_stopped_server_says_why_in_the_status_bar(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    server = say_hello(window, qtbot)
    inspector = window.inspector
    assert inspector.select_message(2)  # the answer: Ctrl+R replays the request it answers
    window.activateWindow()  # a shortcut only fires in the active window, with focus inside
    inspector.table.setFocus()
    qtbot.waitUntil(lambda: inspector.table.hasFocus(), timeout=WAIT)
    qtbot.keyClick(inspector.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    assert rows(window)[2].raw == b"hello"

    click(qtbot, server.start_button)  # stop it
    qtbot.waitUntil(lambda: not window.bridge.running_servers(), timeout=WAIT)
    inspector.select_message(1)
    window.replayer.conversation_action.trigger()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Cannot replay"),
                    timeout=WAIT)
    assert "not running in the lab any more" in window.statusBar().currentMessage()
    assert window.model.rowCount() == 4 and no_dialogs()


def test_a_saved_capture_window_has_no_replay_menu(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    from ui.views.inspector import InspectorView

    other = InspectorView(window.model)
    qtbot.addWidget(other)
    assert other.context_menu(other.table.rect().center()) is None
