"""Wire controls in the window: Step mode holds curl's request until Forward is clicked;
the faults dock changes the chosen server's Wire; the edit dialog's text and hex."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from lab.model import NodeInfo, NodeState, Sender
from lab.wire.hold import HeldMessage
from tests.ui.helpers import click
from ui.mainwindow import MainWindow
from ui.views.edit_dialog import EditDialog, from_hex, from_text, to_hex, to_text

#: Generous: curl starts and the held bar polls every 150 ms, on a busy machine too.
WAIT = 15000

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def stepping(window: MainWindow) -> bool:
    """Step mode is on at the engine's Wires (the toggle's command has been carried out)."""
    return window.lab.engine.wire_board.stepping(None)


def running_http(window: MainWindow, qtbot) -> NodeInfo:  # type: ignore[no-untyped-def]
    window.server_actions["http"].trigger()

    def running() -> NodeInfo | None:
        return next((n for n in window.bridge.nodes.values()
                     if n.kind == "http" and n.state is NodeState.RUNNING), None)

    qtbot.waitUntil(lambda: running() is not None, timeout=WAIT)
    info = running()
    assert info is not None
    return info


def curl_in_step_mode(window: MainWindow, qtbot) -> tuple[Any, subprocess.Popen[bytes]]:  # type: ignore[no-untyped-def]
    """An HTTP server running, step mode on, and curl asking it for / (held by the Wire)."""
    info = running_http(window, qtbot)
    controls = window.wire_controls
    controls.step_action.trigger()
    qtbot.waitUntil(lambda: controls.timer.isActive() and stepping(window), timeout=WAIT)
    curl = subprocess.Popen(["curl", "-sS", "--max-time", "30", f"http://{info.address}/"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return controls, curl


@needs_curl
def test_the_held_bar_holds_curl_until_forward_is_clicked(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    info = running_http(window, qtbot)
    controls = window.wire_controls
    assert controls.step_action.text() == "Step mode"
    controls.step_action.trigger()
    qtbot.waitUntil(lambda: controls.timer.isActive() and stepping(window), timeout=WAIT)
    curl = subprocess.Popen(["curl", "-sS", "--max-time", "30", f"http://{info.address}/"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        bar = controls.bar
        qtbot.waitUntil(lambda: bar.isVisible(), timeout=WAIT)
        assert ": GET / (" in bar.label.text()
        assert bar.held[0].sender is Sender.CLIENT
        qtbot.wait(300)
        assert curl.poll() is None  # held: curl waits
        assert bar.forward_button.shortcut().toString() == "F8"
        click(qtbot, bar.forward_button)

        def answered() -> bool:  # the answer is held too: forward it as it comes
            if bar.isVisible() and bar.held and bar.held[0].sender is Sender.SERVER:
                click(qtbot, bar.forward_button)
            return curl.poll() is not None

        qtbot.waitUntil(answered, timeout=WAIT)
        out, err = curl.communicate(timeout=5)
        assert curl.returncode == 0, err
        assert b"<html" in out.lower()
        controls.step_action.trigger()
        qtbot.waitUntil(lambda: not controls.timer.isActive(), timeout=WAIT)
        assert any(m.held for m in window.lab.engine.capture.messages)
    finally:
        if curl.poll() is None:
            curl.kill()
            curl.wait()


def test_the_faults_dock_sets_the_chosen_servers_wire(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    info = running_http(window, qtbot)
    controls = window.wire_controls
    controls.faults_action.trigger()
    assert controls.dock.isVisible()
    qtbot.waitUntil(lambda: controls.node_id() == info.id, timeout=WAIT)
    controls.form.latency.setValue(250)
    controls.form.refuse.setChecked(True)
    engine = window.lab.engine
    qtbot.waitUntil(lambda: engine.wire_board.faults(info.id).latency == 250
                    and engine.wire_board.faults(info.id).refuse, timeout=WAIT)
    controls.form.reset.setChecked(True)
    qtbot.waitUntil(lambda: engine.wire_board.faults(info.id).reset_after == 1000, timeout=WAIT)
    assert controls.form.reset_message.specialValueText() == "off"
    controls.form.reset_message.setValue(3)
    qtbot.waitUntil(lambda: engine.wire_board.faults(info.id).reset_at_message == 3, timeout=WAIT)


def test_the_edit_dialog_keeps_line_ends_and_reads_hex(qtbot) -> None:  # type: ignore[no-untyped-def]
    data = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert from_text(to_text(data) or "", data) == data
    assert from_hex(to_hex(data)) == data
    assert to_text(b"\xff\xfe") is None
    held = HeldMessage(id=3, node="s1", connection="c1", sender=Sender.CLIENT,
                       summary="GET /", data=data, time=0.0)
    dialog = EditDialog(held)
    qtbot.addWidget(dialog)
    dialog.text.setPlainText("GET /other HTTP/1.1\nHost: x\n\n")
    assert dialog.edited() == b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n"
    dialog.tabs.setCurrentWidget(dialog.hex)
    assert from_hex(dialog.hex.toPlainText()) == dialog.edited()
    dialog.hex.setPlainText("41 42")
    assert dialog.edited() == b"AB"


@needs_curl
def test_drop_in_the_held_bar_makes_curl_fail(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    controls, curl = curl_in_step_mode(window, qtbot)
    try:
        qtbot.waitUntil(lambda: controls.bar.isVisible(), timeout=WAIT)
        click(qtbot, controls.bar.drop_button)
        qtbot.waitUntil(lambda: curl.poll() is not None, timeout=WAIT)
        _, err = curl.communicate(timeout=5)
        assert curl.returncode in (52, 56), err
        qtbot.waitUntil(lambda: not controls.bar.isVisible(), timeout=WAIT)
    finally:
        controls.step_action.trigger()
        if curl.poll() is None:
            curl.kill()
            curl.wait()


@needs_curl
def test_edit_in_the_held_bar_forwards_the_edited_request(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    class Accepting(EditDialog):
        def exec(self) -> int:
            self.text.setPlainText(self.text.toPlainText().replace("GET / ", "GET /nope.html "))
            return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr("ui.views.wire_controls.EditDialog", Accepting)
    info = running_http(window, qtbot)
    controls = window.wire_controls
    controls.faults_action.trigger()
    qtbot.waitUntil(lambda: controls.node_id() == info.id, timeout=WAIT)
    controls.step_one.setChecked(True)  # this server's Wire alone
    qtbot.waitUntil(lambda: controls.timer.isActive()
                    and window.lab.engine.wire_board.stepping(info.id), timeout=WAIT)
    curl = subprocess.Popen(["curl", "-sS", "--max-time", "30", f"http://{info.address}/"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        qtbot.waitUntil(lambda: controls.bar.isVisible(), timeout=WAIT)
        click(qtbot, controls.bar.edit_button)
        qtbot.waitUntil(lambda: bool(controls.bar.held)
                        and controls.bar.held[0].sender is Sender.SERVER, timeout=WAIT)

        def answered() -> bool:  # the answer may come in more than one read
            if controls.bar.isVisible():
                click(qtbot, controls.bar.forward_all_button)
            return curl.poll() is not None

        qtbot.waitUntil(answered, timeout=WAIT)
        out, _ = curl.communicate(timeout=5)
        assert b"nope.html" in out  # the server's 404 names the edited path
        summaries = [m.summary for m in window.lab.engine.capture.messages if m.injected]
        assert any(s.startswith("Edited #") and "GET /nope.html" in s for s in summaries)
    finally:
        controls.step_one.setChecked(False)
        if curl.poll() is None:
            curl.kill()
            curl.wait()


@needs_curl
def test_forward_clicked_twice_at_once_forwards_once_and_raises_nothing(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    """Two clicks before the first has reached the engine act on the message the bar
    showed (the second finds it already forwarded): no traceback, curl still answered."""
    controls, curl = curl_in_step_mode(window, qtbot)
    try:
        bar = controls.bar
        qtbot.waitUntil(lambda: bar.isVisible() and bool(bar.held), timeout=WAIT)
        bar.forward_button.click()
        bar.forward_button.click()  # the bar still shows the request: same message
        shown = list(bar.held)
        bar.show_held([], str)  # a refresh empties the bar before the clicks are handled
        bar.show_held(shown, lambda held: "client → server")
        bar.show_held([], str)

        def answered() -> bool:
            if bar.isVisible() and bar.held and bar.held[0].sender is Sender.SERVER:
                bar.forward_button.click()
            return curl.poll() is not None

        qtbot.waitUntil(answered, timeout=WAIT)
        assert curl.wait(timeout=5) == 0
    finally:
        if curl.poll() is None:
            curl.kill()
            curl.wait()
        controls.step_action.trigger()
