"""Step mode as a class sees it (issue 15): the held bar names the held message once,
a held message looks held (not like a fault) and stops saying so once forwarded, the
echo client waits while its message is held, the UDP echo client claims no
connection, and Ctrl+Shift+W shows and hides a narrow Faults dock."""

from __future__ import annotations

import socket

from PySide6.QtCore import Qt

from lab.model import NodeInfo, NodeState, Sender
from lab.wire.hold import HeldMessage
from tests.ui.helpers import add_panel, click
from ui.mainwindow import MainWindow
from ui.models.messages import COL_SUMMARY, MessageTableModel
from ui.panels.echo_client import EchoClientPanel
from ui.views.sequence import SequenceView
from ui.views.wire_controls import held_text

WAIT = 15000
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)


def running(window: MainWindow, qtbot, kind: str) -> NodeInfo:  # type: ignore[no-untyped-def]
    window.server_actions[kind].trigger()

    def found() -> NodeInfo | None:
        return next((n for n in window.bridge.nodes.values()
                     if n.kind == kind and n.state is NodeState.RUNNING), None)

    qtbot.waitUntil(lambda: found() is not None, timeout=WAIT)
    info = found()
    assert info is not None
    return info


def echo_client(window: MainWindow, qtbot, kind: str = "tcp-echo",  # type: ignore[no-untyped-def]
                ) -> tuple[NodeInfo, EchoClientPanel]:
    info = running(window, qtbot, kind)
    client = add_panel(window, qtbot, "client", "echo", EchoClientPanel)
    qtbot.waitUntil(lambda: client.choose_server(info.id), timeout=WAIT)
    return info, client


def step_on(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    controls = window.wire_controls
    controls.step_action.trigger()
    qtbot.waitUntil(lambda: controls.timer.isActive()
                    and window.lab.engine.wire_board.stepping(None), timeout=WAIT)


def send(qtbot, client: EchoClientPanel, text: str) -> None:  # type: ignore[no-untyped-def]
    client.input.setText(text)
    click(qtbot, client.send_button)


def rows(window: MainWindow) -> list[str]:
    """The inspector's Summary column, as a user reads it."""
    model: MessageTableModel = window.model
    return [model.data_at(row, COL_SUMMARY, _DISPLAY) for row in range(model.rowCount())]


def held_from(window: MainWindow, sender: Sender) -> bool:
    bar = window.wire_controls.bar
    return bar.isVisible() and bool(bar.held) and bar.held[0].sender is sender


def test_the_held_bar_names_the_held_message_and_its_size_once(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    _, client = echo_client(window, qtbot)
    step_on(window, qtbot)
    send(qtbot, client, "hello")
    qtbot.waitUntil(lambda: held_from(window, Sender.CLIENT), timeout=WAIT)
    text = window.wire_controls.bar.label.text()
    assert text.count("5 bytes") == 1, text
    assert text.startswith("Held at the Wire (read, not yet delivered): #")
    assert '"hello" (5 bytes) — Forward (F8) · Drop (F7) · Edit (F9)' in text
    # named as the diagram's lanes are (once the bridge has brought the connection),
    # and selected, so Explain says what it is
    qtbot.waitUntil(lambda: f"{client.info.name} → TCP echo server"
                    in window.wire_controls.bar.label.text(), timeout=WAIT)
    qtbot.waitUntil(lambda: (m := window.inspector.selected_message()) is not None
                    and m.id == window.wire_controls.bar.held[0].id, timeout=WAIT)
    assert "hello" in window.inspector.explain.toPlainText()
    # a summary without a size gets one
    held = HeldMessage(id=4, node="s1", connection="c1", sender=Sender.CLIENT,
                       summary="GET /", data=b"x" * 1200, time=0.0)
    assert "GET / (1,200 bytes) — Forward" in held_text([held, held], lambda _: "a → b")
    assert held_text([held, held], lambda _: "a → b").endswith("1 more held")


def test_a_forwarded_message_no_longer_says_held(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    _, client = echo_client(window, qtbot)
    step_on(window, qtbot)
    send(qtbot, client, "hello")
    qtbot.waitUntil(lambda: any(r.startswith('[held] "hello"') for r in rows(window)),
                    timeout=WAIT)
    view = window.findChild(SequenceView)
    assert view is not None
    arrow = next(a for r in range(window.diagram.row_count())
                 if (a := window.diagram.arrow(r)) is not None
                 and a.message.summary.startswith('"hello"'))
    assert view.painter.holding(arrow)
    assert view.painter.label_text(arrow).startswith('held: "hello"')
    qtbot.waitUntil(lambda: held_from(window, Sender.CLIENT), timeout=WAIT)
    click(qtbot, window.wire_controls.bar.forward_button)
    qtbot.waitUntil(lambda: held_from(window, Sender.SERVER), timeout=WAIT)
    first = rows(window).index(next(r for r in rows(window) if r.endswith('"hello" (5 bytes)')))
    qtbot.waitUntil(lambda: rows(window)[first].startswith('[stepped] "hello"'), timeout=WAIT)
    assert not view.painter.holding(arrow)
    assert view.painter.label_text(arrow) == arrow.message.summary
    click(qtbot, window.wire_controls.bar.forward_button)
    qtbot.waitUntil(lambda: not any(r.startswith("[held]") for r in rows(window)),
                    timeout=WAIT)


def test_held_bytes_that_end_no_message_show_as_held_not_as_a_fault(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    info = running(window, qtbot, "http")
    step_on(window, qtbot)
    host, port = info.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")  # no blank line: the request has not ended

        def note() -> str | None:
            return next((r for r in rows(window) if "read and held by the Wire" in r), None)

        qtbot.waitUntil(lambda: note() is not None, timeout=WAIT)
        assert note() == "[held] 16 bytes of a message, read and held by the Wire"
        view = window.findChild(SequenceView)
        assert view is not None
        arrow = next(a for r in range(window.diagram.row_count())
                     if (a := window.diagram.arrow(r)) is not None and a.message.held)
        assert arrow.message.injected  # the Wire's note, not a message that was sent
        assert not view.painter.fault(arrow)  # drawn in the sender's colour, dotted
        assert view.painter.holding(arrow)
        assert view.painter.label_text(arrow).startswith("16 bytes of a message")
        qtbot.waitUntil(lambda: held_from(window, Sender.CLIENT), timeout=WAIT)
        assert "16 bytes of a message" in window.wire_controls.bar.label.text()
        assert window.wire_controls.bar.label.text().count("16 bytes") == 1
        click(qtbot, window.wire_controls.bar.drop_button)
        qtbot.waitUntil(lambda: note() == "[stepped] 16 bytes of a message, read and held "
                        "by the Wire", timeout=WAIT)
        assert not view.painter.fault(arrow)


def test_the_echo_client_keeps_waiting_while_its_message_is_held(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    _, client = echo_client(window, qtbot)
    step_on(window, qtbot)
    send(qtbot, client, "hello")
    qtbot.waitUntil(lambda: held_from(window, Sender.CLIENT), timeout=WAIT)
    # past the 2 s a reply gets when nothing steps: the client says it keeps waiting
    qtbot.waitUntil(lambda: "still waiting: step mode is on" in client.log_text(),
                    timeout=WAIT)
    assert "no reply within" not in client.log_text()
    assert client.state_label.text().startswith("send hello")  # busy: it waits
    click(qtbot, window.wire_controls.bar.forward_button)
    qtbot.waitUntil(lambda: held_from(window, Sender.SERVER), timeout=WAIT)
    click(qtbot, window.wire_controls.bar.forward_button)
    qtbot.waitUntil(lambda: '← reply "hello"' in client.log_text(), timeout=WAIT)
    assert "no reply within" not in client.log_text()


def test_the_udp_echo_client_claims_no_connection(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    info, client = echo_client(window, qtbot, "udp-echo")
    assert client.transport_combo.currentText() == "UDP"
    assert client.connect_button.text() == "Open socket"
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: client.connected, timeout=WAIT)
    assert client.state_label.text() == f"ready to send (UDP: no connection) → {info.address}"
    assert client.connect_button.text() == "Close socket"
    assert "connected" not in client.log_text()
    assert "(UDP has no connection)" in client.log_text()
    send(qtbot, client, "ping")
    qtbot.waitUntil(lambda: '← reply "ping"' in client.log_text(), timeout=WAIT)
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: not client.connected, timeout=WAIT)
    assert client.connect_button.text() == "Open socket"
    client.transport_combo.setCurrentIndex(client.transport_combo.findData("tcp"))
    assert client.connect_button.text() == "Connect"


def test_ctrl_shift_w_shows_and_hides_a_narrow_faults_dock(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    controls = window.wire_controls
    action, dock = controls.faults_action, controls.dock
    assert action.shortcut().toString() == "Ctrl+Shift+W" and action.isCheckable()
    action.trigger()
    qtbot.waitUntil(dock.isVisible, timeout=WAIT)
    assert action.isChecked()
    assert dock.width() <= 340, dock.width()  # about 300 px of form at 100% zoom
    action.trigger()  # the same key again: hidden
    qtbot.waitUntil(lambda: not dock.isVisible(), timeout=WAIT)
    assert not action.isChecked()
    action.trigger()
    qtbot.waitUntil(dock.isVisible, timeout=WAIT)
    dock.close()  # its X
    qtbot.waitUntil(lambda: not action.isChecked(), timeout=WAIT)
    action.trigger()  # opens again at once, not a toggle out of step
    qtbot.waitUntil(dock.isVisible, timeout=WAIT)
