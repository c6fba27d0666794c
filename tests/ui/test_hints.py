"""The window's hints follow what is in the lab: the status bar says what to add next
(nothing once there is a server and a client), and the empty Clients column names
the running server a client would talk to."""

from __future__ import annotations

from tests.ui.helpers import WAIT, add_panel
from ui.mainwindow import MainWindow
from ui.panels import NodePanel
from ui.views.column import CLIENT_NEXT, SERVER_NEXT, START_HINT


def test_the_status_bar_and_the_clients_column_say_what_comes_next(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    bar = window.statusBar()
    assert bar.currentMessage() == START_HINT
    assert window.clients.hint.isVisible()
    assert window.clients.hint.text().startswith("Start a server first")

    server = add_panel(window, qtbot, "server", "tcp-echo", NodePanel)
    name = server.info.name
    qtbot.waitUntil(lambda: bar.currentMessage() == CLIENT_NEXT, timeout=WAIT)
    qtbot.waitUntil(lambda: name in window.clients.hint.text(), timeout=WAIT)
    hint = window.clients.hint.text()
    assert "Start a server first" not in hint
    assert hint == f"Add a client with + Client (Ctrl+Shift+C) to talk to {name}."
    assert window.clients.hint.isVisible()

    add_panel(window, qtbot, "client", "echo", NodePanel)
    qtbot.waitUntil(lambda: bar.currentMessage() == "", timeout=WAIT)
    assert not window.clients.hint.isVisible()
    window.model.modelReset.emit()  # another update of the status: the hint stays away
    assert bar.currentMessage() == ""


def test_a_client_first_asks_for_a_server_and_other_messages_stay(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    bar = window.statusBar()
    add_panel(window, qtbot, "client", "echo", NodePanel)
    qtbot.waitUntil(lambda: bar.currentMessage() == SERVER_NEXT, timeout=WAIT)
    bar.showMessage("Saved 2 messages")  # what the user did last is not overwritten
    server = add_panel(window, qtbot, "server", "tcp-echo", NodePanel)
    qtbot.waitUntil(lambda: server.node_id in window.bridge.nodes, timeout=WAIT)
    assert bar.currentMessage() == "Saved 2 messages"
    bar.clearMessage()
    window.bridge.cleared.emit()
    assert bar.currentMessage() == ""
