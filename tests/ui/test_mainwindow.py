"""The whole loop through the window's own actions: server, client, send, reply, rows."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from lab.model import NodeState, Sender
from tests.ui.helpers import click, no_dialogs
from ui.mainwindow import MainWindow
from ui.panels.echo_client import EchoClientPanel
from ui.panels.echo_server import EchoServerPanel

WAIT = 15000


def server_panels(window: MainWindow) -> list[EchoServerPanel]:
    return [p for p in window.servers.panels() if isinstance(p, EchoServerPanel)]


def client_panels(window: MainWindow) -> list[EchoClientPanel]:
    return [p for p in window.clients.panels() if isinstance(p, EchoClientPanel)]


def add_running_server(window: MainWindow, qtbot, kind: str) -> EchoServerPanel:  # type: ignore[no-untyped-def]
    before = len(server_panels(window))
    window.server_actions[kind].trigger()
    qtbot.waitUntil(lambda: len(server_panels(window)) == before + 1, timeout=WAIT)
    panel = server_panels(window)[-1]
    qtbot.waitUntil(lambda: panel.info.state is NodeState.RUNNING, timeout=WAIT)
    return panel


def add_client(window: MainWindow, qtbot) -> EchoClientPanel:  # type: ignore[no-untyped-def]
    before = len(client_panels(window))
    window.client_actions["echo"].trigger()
    qtbot.waitUntil(lambda: len(client_panels(window)) == before + 1, timeout=WAIT)
    return client_panels(window)[-1]


def say_hello(window: MainWindow, qtbot) -> EchoServerPanel:  # type: ignore[no-untyped-def]
    """A tcp-echo server and client that said hello (2 rows); the server's panel."""
    server = add_running_server(window, qtbot, "tcp-echo")
    client = add_client(window, qtbot)
    qtbot.waitUntil(lambda: client.choose_server(server.node_id), timeout=WAIT)
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: client.connected, timeout=WAIT)
    qtbot.keyClicks(client.input, "hello")
    qtbot.keyClick(client.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT)
    return server


@pytest.mark.parametrize("kind", ["tcp-echo", "udp-echo"])
def test_send_hello_through_the_window(window: MainWindow, qtbot, kind: str) -> None:  # type: ignore[no-untyped-def]
    server = add_running_server(window, qtbot, kind)
    assert server.start_button.text() == "Stop"
    client = add_client(window, qtbot)
    qtbot.waitUntil(lambda: client.choose_server(server.node_id), timeout=WAIT)

    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: client.connected, timeout=WAIT)
    # UDP has no connection: its button closes a socket
    assert client.connect_button.text() == ("Disconnect" if kind == "tcp-echo"
                                            else "Close socket")
    qtbot.keyClicks(client.input, "hello")
    qtbot.keyClick(client.input, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: '← reply "hello"' in client.log_text(), timeout=WAIT)
    assert '→ sent "hello"' in client.log_text()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT)
    first, second = (window.model.message(row) for row in range(2))
    assert (first.sender, second.sender) == (Sender.CLIENT, Sender.SERVER)
    assert "hello" in first.summary and "hello" in second.summary
    assert first.protocol == second.protocol == kind
    assert first.server == server.info.address
    assert window.wire.model().rowCount() == 2
    # The wire names both ends by their panels.
    assert window.name_of(first, Sender.CLIENT) == client.info.name
    assert window.name_of(first, Sender.SERVER).startswith(server.info.name + " :")
    assert not client.error_text and not server.error_text
    assert no_dialogs()


def test_hex_send_and_bad_hex_error_inline(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    server = add_running_server(window, qtbot, "tcp-echo")
    client = add_client(window, qtbot)
    qtbot.waitUntil(lambda: client.choose_server(server.node_id), timeout=WAIT)
    client.hex_box.setChecked(True)
    qtbot.keyClicks(client.input, "zz")
    click(qtbot, client.send_button)
    qtbot.waitUntil(lambda: "not hex" in client.error_text, timeout=WAIT)
    assert not client.connected  # nothing was sent

    client.input.setText("de ad 00 01")
    click(qtbot, client.send_button)  # connects, then sends
    qtbot.waitUntil(lambda: "← reply de ad 00 01" in client.log_text(), timeout=WAIT)
    assert client.error_text == ""
    assert no_dialogs()


def test_typed_address_of_nothing_shows_error(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    client = add_client(window, qtbot)
    client.target_combo.setEditText("not-an-address:xyz")
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: "bad port" in client.error_text, timeout=WAIT)
    assert not client.connected
    assert no_dialogs()


def test_stop_all_and_remove(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    server = add_running_server(window, qtbot, "tcp-echo")
    window.stop_all_action.trigger()
    qtbot.waitUntil(lambda: server.info.state is NodeState.STOPPED, timeout=WAIT)
    assert server.start_button.text() == "Start"
    click(qtbot, server.remove_button)
    qtbot.waitUntil(lambda: not server_panels(window), timeout=WAIT)
    assert window.servers.hint.isVisibleTo(window.servers)


def test_status_bar_counts(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    assert window.status.text().startswith("0 messages")
    test_send_hello_through_the_window(window, qtbot, "tcp-echo")
    qtbot.waitUntil(lambda: window.status.text().startswith("2 messages"), timeout=WAIT)
    assert "1 server running" in window.status.text()


def test_toolbar_actions_have_shortcuts_and_tips(window: MainWindow) -> None:
    assert window.windowTitle() == "Client-Server Lab"
    assert {"tcp-echo", "udp-echo", "http"} <= set(window.server_actions)
    # Every menu entry opens a panel: kinds the UI cannot show yet are left out.
    from ui.panels import panel_class
    assert all(panel_class("server", k) for k in window.server_actions)
    assert all(panel_class("client", k) for k in window.client_actions)
    shortcuts = {a.shortcut().toString() for a in window.actions()}
    assert {"Ctrl+Shift+S", "Ctrl+Shift+C", "Ctrl+Q"} <= shortcuts
    for action in [*window.server_actions.values(), *window.client_actions.values(),
                   window.stop_all_action, window.quit_action]:
        assert action.toolTip() and action.toolTip() != action.text()
    assert "7007" in window.server_actions["tcp-echo"].toolTip()
    assert "8080" in window.server_actions["http"].toolTip()
    assert window.client_actions["http"].toolTip() == "Add a request composer"
    assert {"Ctrl+Shift+H", "Ctrl+Shift+R", "Ctrl+Shift+B"} <= shortcuts
    assert "add a client with + Client" in window.clients.hint.text()
    assert window.servers.hint.text().startswith("Add a server with + Server")


def test_a_late_event_does_not_undo_a_newer_state(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Bridge events arrive after a command's answer: an older one must not win."""
    from dataclasses import replace

    window.server_actions["tcp-echo"].trigger()
    qtbot.waitUntil(lambda: bool(window.servers.panels()), timeout=WAIT)
    panel = window.servers.panels()[0]
    qtbot.waitUntil(lambda: panel.info.state is NodeState.RUNNING, timeout=WAIT)
    running = panel.info
    panel.update_node(replace(running, state=NodeState.STARTING, revision=running.revision - 1))
    assert panel.info.state is NodeState.RUNNING and panel.start_button.text() == "Stop"
    panel.update_node(replace(running, state=NodeState.STOPPED, revision=running.revision + 1))
    assert panel.info.state is NodeState.STOPPED and panel.start_button.text() == "Start"
