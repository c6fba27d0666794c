"""Client panels as views of the client's state: whatever made the state (a lesson's
step run through ``Engine.client_act``, a saved setup's settings), the panel shows it."""

from __future__ import annotations

from typing import Any

from lab.scenario import load
from lab.scenario_run import Runner
from tests.ui.helpers import add_panel, no_dialogs
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.panels import NodePanel
from ui.panels.dns_client import DnsClientPanel
from ui.panels.echo_client import EchoClientPanel, target_of
from ui.panels.http_server import HttpServerPanel
from ui.panels.load import LoadPanel
from ui.panels.ws_chat import WsChatPanel

WAIT = 15000


def done(qtbot, coroutine: Any) -> Any:  # type: ignore[no-untyped-def]
    """Run ``coroutine`` on the Qt thread's loop until it is done; its result."""
    task = spawn(coroutine)
    qtbot.waitUntil(task.done, timeout=WAIT)
    return task.result()


def lesson(window: MainWindow, qtbot, name: str) -> Runner:  # type: ignore[no-untyped-def]
    """Set lesson ``name`` up on the window's engine and run every step through
    ``Engine.client_act``, as lab/scenario_run.Runner does (not through the panels)."""
    lab = window.lab
    runner = Runner(load(name), lab.engine)
    done(qtbot, lab.call(runner.setup))
    for index in range(len(runner.scenario.steps)):
        result = done(qtbot, lab.call(runner.step, index))
        assert result.passed, [str(c) for c in result.checks]
    return runner


def panel(window: MainWindow, qtbot, runner: Runner, name: str) -> NodePanel:  # type: ignore[no-untyped-def]
    node_id = runner.client_ids[name]
    qtbot.waitUntil(lambda: node_id in window.panels, timeout=WAIT)
    return window.panels[node_id]


def test_lesson_7_both_chat_panels_show_the_room_and_ann_is_in_it(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    runner = lesson(window, qtbot, "07-websocket-chat")
    bob = panel(window, qtbot, runner, "Bob")
    ann = panel(window, qtbot, runner, "Ann")
    assert isinstance(bob, WsChatPanel) and isinstance(ann, WsChatPanel)
    assert (bob.name_edit.text(), ann.name_edit.text()) == ("Bob", "Ann")  # their names
    for chat in (bob, ann):
        qtbot.waitUntil(lambda c=chat: "Ann: hello Bob" in c.room_lines(), timeout=WAIT)
    qtbot.waitUntil(lambda: "Bob: got it" in ann.room_lines(), timeout=WAIT)  # pushed
    assert "Bob: hi, I'm here" in bob.room_lines() and "* Ann joined" in bob.room_lines()
    assert ann.joined and bob.joined
    assert ann.connect_button.text() == "Leave" and ann.message_edit.isEnabled()
    assert ann.state_label.text() == f"in the room at {runner.addresses['Chat server']}"
    assert not ann.error_text and not bob.error_text and no_dialogs()


def test_lesson_9_netcat_logs_the_echo(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    runner = lesson(window, qtbot, "09-misbehaving-network")
    netcat = panel(window, qtbot, runner, "netcat")
    assert isinstance(netcat, EchoClientPanel)
    qtbot.waitUntil(lambda: '← reply "ping again"' in netcat.log_text(), timeout=WAIT)
    assert '→ sent "ping"' in netcat.log_text() and "(no reply within" in netcat.log_text()
    assert target_of(netcat.target_combo.currentText()) == runner.addresses["UDP echo"]
    assert "UDP echo" in netcat.target_combo.currentText()
    assert netcat.transport_combo.currentText() == "UDP" and netcat.connected
    assert netcat.connect_button.text() == "Close socket"  # UDP: no connection


def test_lesson_10_each_client_points_at_its_own_server(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    runner = lesson(window, qtbot, "10-tcp-vs-udp")
    tcp = panel(window, qtbot, runner, "TCP client")
    udp = panel(window, qtbot, runner, "UDP client")
    assert isinstance(tcp, EchoClientPanel) and isinstance(udp, EchoClientPanel)
    qtbot.waitUntil(lambda: '← reply "still here"' in tcp.log_text(), timeout=WAIT)
    qtbot.waitUntil(lambda: '← reply "hello over UDP"' in udp.log_text(), timeout=WAIT)
    assert target_of(udp.target_combo.currentText()) == runner.addresses["UDP echo"]
    assert target_of(tcp.target_combo.currentText()) == runner.addresses["TCP echo"]
    assert (tcp.transport_combo.currentText(), udp.transport_combo.currentText()) == (
        "TCP", "UDP")
    assert '→ sent "is anyone there?"' in udp.log_text()


def test_fields_show_the_settings_a_client_was_made_with(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    lab = window.lab
    made = {
        "echo": {"server": "127.0.0.1:7", "transport": "udp", "hex": "true"},
        "ws": {"server": "127.0.0.1:9", "nick": "zed"},
        "dns": {"server": "127.0.0.1:53", "name": "mail.lab.test", "type": "MX",
                "tcp": "true"},
        "load": {"server": "127.0.0.1:8", "path": "/big", "clients": "7", "seconds": "3"},
    }
    ids = {kind: done(qtbot, lab.call(lab.engine.add_client, kind, settings=settings)).id
           for kind, settings in made.items()}
    for node_id in ids.values():
        qtbot.waitUntil(lambda n=node_id: n in window.panels, timeout=WAIT)
    echo, ws, dns, load_ = (window.panels[ids[kind]] for kind in made)
    assert isinstance(echo, EchoClientPanel)
    qtbot.waitUntil(lambda: target_of(echo.target_combo.currentText()) == "127.0.0.1:7",
                    timeout=WAIT)
    assert echo.transport_combo.currentText() == "UDP" and echo.hex_box.isChecked()
    assert isinstance(ws, WsChatPanel)
    qtbot.waitUntil(lambda: ws.name_edit.text() == "zed", timeout=WAIT)
    assert ws.server_combo.address() == "127.0.0.1:9"
    assert isinstance(dns, DnsClientPanel)
    qtbot.waitUntil(lambda: dns.name_edit.text() == "mail.lab.test", timeout=WAIT)
    assert dns.type_combo.currentText() == "MX" and dns.tcp_check.isChecked()
    assert dns.server_combo.address() == "127.0.0.1:53"
    assert isinstance(load_, LoadPanel)
    qtbot.waitUntil(lambda: load_.path_edit.text() == "/big", timeout=WAIT)
    assert (load_.clients_spin.value(), load_.seconds_spin.value()) == (7, 3)
    assert load_.server_combo.currentText() == "127.0.0.1:8"


def test_a_lookup_run_through_the_engine_shows_in_the_dns_panel(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    lab = window.lab
    server = done(qtbot, lab.call(lab.engine.add_server, "dns", port=0))
    info = done(qtbot, lab.call(lab.engine.add_client, "dns",
                                settings={"server": server.address}))
    qtbot.waitUntil(lambda: info.id in window.panels, timeout=WAIT)
    dig = window.panels[info.id]
    assert isinstance(dig, DnsClientPanel)
    outcome = done(qtbot, lab.call(lab.engine.client_act, info.id, "query",
                                   ("www.lab.test", "A")))
    assert outcome.ok
    qtbot.waitUntil(lambda: dig.header_text().startswith("NOERROR"), timeout=WAIT)
    model = dig.model
    assert [str(model.index(r, 4).data()) for r in range(model.rowCount())] == ["127.0.0.1"]
    assert dig.name_edit.text() == "www.lab.test" and dig.type_combo.currentText() == "A"
    done(qtbot, lab.call(lab.engine.client_act, info.id, "query", ("nowhere.lab.test", "A")))
    qtbot.waitUntil(lambda: dig.header_text().startswith("NXDOMAIN"), timeout=WAIT)
    assert dig.name_edit.text() == "nowhere.lab.test"


def test_a_load_run_started_through_the_engine_plots_in_the_panel(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    lab = window.lab
    server = add_panel(window, qtbot, "server", "http", HttpServerPanel)
    info = done(qtbot, lab.call(lab.engine.add_client, "load", settings={
        "server": server.info.address, "clients": "3", "seconds": "2"}))
    qtbot.waitUntil(lambda: info.id in window.panels, timeout=WAIT)
    load_ = window.panels[info.id]
    assert isinstance(load_, LoadPanel)
    assert done(qtbot, lab.call(lab.engine.client_act, info.id, "start")).ok
    qtbot.waitUntil(lambda: load_.running and load_.stop_button.isEnabled(), timeout=WAIT)
    qtbot.waitUntil(lambda: load_.summary is not None, timeout=WAIT)
    assert load_.points() >= 2 and "requests/s on average" in load_.summary_label.text()
    assert load_.start_button.isEnabled() and not load_.stop_button.isEnabled()
