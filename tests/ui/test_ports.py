"""Ports: one in use shows a clear error in the panel; quitting frees every port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from lab.model import NodeState, parse_address
from tests.ui.helpers import click
from ui.app import shutdown
from ui.bridge import EngineBridge
from ui.engine_thread import EngineThread
from ui.mainwindow import MainWindow
from ui.panels.echo_server import EchoServerPanel

WAIT = 15000


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def last_server(window: MainWindow, qtbot, kind: str = "tcp-echo") -> EchoServerPanel:  # type: ignore[no-untyped-def]
    before = len(window.servers.panels())
    window.server_actions[kind].trigger()
    qtbot.waitUntil(lambda: len(window.servers.panels()) == before + 1, timeout=WAIT)
    panel = window.servers.panels()[-1]
    assert isinstance(panel, EchoServerPanel)
    return panel


def test_port_in_use_shows_error_naming_it(window: MainWindow, qtbot, busy_port: int) -> None:  # type: ignore[no-untyped-def]
    panel = last_server(window, qtbot)
    qtbot.waitUntil(lambda: panel.info.state is NodeState.RUNNING, timeout=WAIT)
    click(qtbot, panel.start_button)  # Stop
    qtbot.waitUntil(lambda: panel.info.state is NodeState.STOPPED, timeout=WAIT)

    panel.port_spin.setValue(busy_port)
    click(qtbot, panel.start_button)  # Start, fails
    qtbot.waitUntil(lambda: panel.error_text != "", timeout=WAIT)
    assert f"port {busy_port}" in panel.error_text
    assert "in use" in panel.error_text
    assert not panel.error_label.isHidden()
    qtbot.waitUntil(lambda: panel.info.state is NodeState.FAILED, timeout=WAIT)
    assert panel.start_button.text() == "Start" and panel.port_spin.isEnabled()

    panel.port_spin.setValue(0)  # the suggestion: let the system pick one
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.info.state is NodeState.RUNNING, timeout=WAIT)
    assert panel.error_text == "" and panel.error_label.isHidden()
    # running, the Port box says the port it got, never "0 (any free port)"
    port = int(panel.info.address.rpartition(":")[2])
    assert port > 0 and panel.port_spin.value() == port
    assert panel.port_spin.text() == str(port)
    click(qtbot, panel.start_button)  # Stop: back to what was asked for
    qtbot.waitUntil(lambda: panel.info.state is NodeState.STOPPED, timeout=WAIT)
    assert panel.port_spin.value() == 0


def test_default_port_busy_from_the_menu(lab: EngineThread, bridge: EngineBridge, qtbot) -> None:  # type: ignore[no-untyped-def]
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR: connections of an earlier run in TIME_WAIT must not stop us binding
    # (the engine sets it too, so only a listener can keep it off the port).
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        blocker.bind(("127.0.0.1", 7007))
        blocker.listen()
    except OSError:
        pass  # someone else holds 7007: just as busy
    try:
        window = MainWindow(lab, bridge)  # the real default ports
        qtbot.addWidget(window)
        panel = last_server(window, qtbot)
        qtbot.waitUntil(lambda: panel.error_text != "", timeout=WAIT)
        assert panel.port_spin.value() == 7007
        assert "port 7007" in panel.error_text
    finally:
        blocker.close()


def port_is_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_quitting_frees_every_port(window: MainWindow, lab: EngineThread, bridge: EngineBridge,
                                   qtbot) -> None:  # type: ignore[no-untyped-def]
    tcp = last_server(window, qtbot, "tcp-echo")
    udp = last_server(window, qtbot, "udp-echo")
    for panel in (tcp, udp):
        qtbot.waitUntil(lambda p=panel: p.info.state is NodeState.RUNNING, timeout=WAIT)
    tcp_port = parse_address(tcp.info.address)[1]
    udp_port = parse_address(udp.info.address)[1]
    # an open connection too: a client of the TCP server that has talked
    client = socket.create_connection(("127.0.0.1", tcp_port))
    client.sendall(b"hi")
    assert client.recv(10) == b"hi"
    assert not port_is_free(tcp_port, socket.SOCK_STREAM)
    assert not port_is_free(udp_port, socket.SOCK_DGRAM)

    shutdown(window, bridge, lab)  # what the app does on quit

    assert not lab.running
    assert port_is_free(udp_port, socket.SOCK_DGRAM)
    with socket.socket() as sock:  # a listener on the same port: nobody else listens there
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", tcp_port))
        sock.listen()
    assert client.recv(10) == b""  # the lab closed its end
    client.close()
