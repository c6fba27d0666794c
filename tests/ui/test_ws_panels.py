"""The WebSocket panels through the window's own actions: a chat server and two chat
clients; each client shows the other's message as the server pushes it, the server
panel lists both members live, and the inspector holds the TEXT frames."""

from __future__ import annotations

from PySide6.QtCore import Qt

from lab.model import Sender
from tests.ui.helpers import add_panel, click, no_dialogs
from tests.ui.test_mail_panels import WAIT, summaries
from ui.mainwindow import MainWindow
from ui.panels.ws_chat import WsChatPanel, line_html
from ui.panels.ws_server import WsServerPanel


def add_chat(window: MainWindow, qtbot) -> WsChatPanel:  # type: ignore[no-untyped-def]
    """Add a chat client from the toolbar; its new panel."""
    before = set(window.clients.panels())
    window.client_actions["ws"].trigger()
    qtbot.waitUntil(lambda: len(window.clients.panels()) > len(before), timeout=WAIT)
    (panel,) = set(window.clients.panels()) - before
    assert isinstance(panel, WsChatPanel)
    # A user types once the panel shows its client's settings (its first state).
    qtbot.waitUntil(lambda: panel.state is not None, timeout=WAIT)
    return panel


def send(qtbot, panel: WsChatPanel, text: str) -> None:  # type: ignore[no-untyped-def]
    panel.message_edit.setText(text)
    qtbot.keyClick(panel.message_edit, Qt.Key.Key_Return)


def name(panel: WsChatPanel, nick: str) -> None:
    """Type ``nick`` in the name field, as a user would."""
    panel.name_edit.setText(nick)


def test_lines() -> None:
    assert "<i>* ana joined</i>" in line_html("* ana joined")
    assert line_html("ana: <b>hi</b>") == "<b>ana:</b> &lt;b&gt;hi&lt;/b&gt;"


def test_two_chat_clients_talk_through_the_server(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    server = add_panel(window, qtbot, "server", "ws", WsServerPanel)
    ana = add_chat(window, qtbot)
    bob = add_chat(window, qtbot)
    # With no nick set, a chat client joins under its own name; these two choose theirs.
    assert (ana.name_edit.text(), bob.name_edit.text()) == (ana.info.name, bob.info.name)
    name(ana, "ana")
    name(bob, "bob")
    assert ana.server_combo.address() == server.info.address  # the running server
    assert not ana.message_edit.isEnabled()
    assert server.room_label.text() == "In the room: 0 · messages: 0"

    click(qtbot, ana.connect_button)
    qtbot.waitUntil(lambda: ana.joined, timeout=WAIT)
    click(qtbot, bob.connect_button)
    qtbot.waitUntil(lambda: bob.joined, timeout=WAIT)
    qtbot.waitUntil(lambda: server.members() == ["ana", "bob"], timeout=WAIT)  # live
    qtbot.waitUntil(lambda: "* bob joined" in ana.room_lines(), timeout=WAIT)  # pushed
    assert ana.room_lines() == ["* here now: ana", "* ana joined", "* bob joined"]
    qtbot.waitUntil(lambda: bob.room_lines()[:2] == ["* here now: ana, bob", "* bob joined"],
                    timeout=WAIT)  # bob's own join notice may still be on its way
    assert ana.connect_button.text() == "Leave" and ana.message_edit.isEnabled()
    assert ana.state_label.text() == f"in the room at {server.info.address}"

    send(qtbot, ana, "hi bob")
    qtbot.waitUntil(lambda: "ana: hi bob" in bob.room_lines(), timeout=WAIT)
    qtbot.waitUntil(lambda: ana.message_edit.text() == "", timeout=WAIT)  # sent: cleared
    send(qtbot, bob, "hello ana")
    qtbot.waitUntil(lambda: "bob: hello ana" in ana.room_lines(), timeout=WAIT)
    assert ana.room_lines()[-2:] == ["ana: hi bob", "bob: hello ana"]
    qtbot.waitUntil(lambda: server.room_label.text() == "In the room: 2 · messages: 2",
                    timeout=WAIT)

    def frames() -> list[str]:
        return summaries(window, "websocket")

    qtbot.waitUntil(lambda: 'TEXT "bob: hello ana" (14 bytes)' in frames(), timeout=WAIT)
    assert frames().count("GET /?name=ana") == 1 and frames().count("GET /?name=bob") == 1
    assert frames().count("101 Switching Protocols") == 2
    model = window.model
    said = [model.message(r) for r in range(model.rowCount())
            if model.message(r).summary == 'TEXT "hi bob" (6 bytes)']
    assert len(said) == 1 and said[0].sender is Sender.CLIENT
    assert dict(said[0].fields)["masked"] is True
    assert frames().count('TEXT "ana: hi bob" (11 bytes)') == 2  # one copy to each member

    click(qtbot, bob.connect_button)  # Leave
    qtbot.waitUntil(lambda: not bob.joined, timeout=WAIT)
    assert bob.room_lines()[-1] == "— you left the room" and not bob.error_text
    qtbot.waitUntil(lambda: server.members() == ["ana"], timeout=WAIT)
    qtbot.waitUntil(lambda: "* bob left" in ana.room_lines(), timeout=WAIT)
    assert no_dialogs()


def test_a_too_big_message_and_a_stopped_server_show_in_the_panel(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    server = add_panel(window, qtbot, "server", "ws", WsServerPanel)
    server.size_spin.setValue(100)
    click(qtbot, server.apply_button)
    qtbot.waitUntil(lambda: not server.apply_button.isEnabled(), timeout=WAIT)
    assert not server.error_text
    ana = add_chat(window, qtbot)
    name(ana, "ana")
    click(qtbot, ana.connect_button)
    qtbot.waitUntil(lambda: ana.joined, timeout=WAIT)
    send(qtbot, ana, "x" * 101)
    qtbot.waitUntil(lambda: not ana.joined, timeout=WAIT)
    assert ana.error_text.startswith("The server closed the connection: 1009 (message too big)")
    assert ana.error_label.isVisible() and ana.connect_button.text() == "Connect"
    qtbot.waitUntil(lambda: server.members() == [], timeout=WAIT)

    click(qtbot, ana.connect_button)
    qtbot.waitUntil(lambda: ana.joined and not ana.error_text, timeout=WAIT)
    click(qtbot, server.start_button)  # Stop
    qtbot.waitUntil(lambda: not ana.joined, timeout=WAIT)
    assert ana.room_lines()[-1] == ("— the server closed the connection: 1001 (going away): "
                                    "server going away")
    assert not ana.error_text  # a server that stops is no error of the user's

    click(qtbot, ana.connect_button)
    qtbot.waitUntil(lambda: bool(ana.error_text), timeout=WAIT)
    assert "is a WebSocket server running there?" in ana.error_text and not ana.joined
    assert no_dialogs()
