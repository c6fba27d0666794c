"""Sampling at high rates applies to a load test's traffic only: above its limit the
bridge passes on 1 of a load client's messages in K, the inspector says so
("sampling 1 in K") and its count stays exact; any other traffic, however fast,
reaches the inspector whole."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from lab.capture import Capture
from lab.load import LoadRun, LoadSummary
from lab.model import (
    EndpointNamed,
    Message,
    NodeChanged,
    NodeInfo,
    NodeState,
    Piece,
    Sender,
    Transport,
)
from tests.ui.helpers import add_panel
from ui.bridge import EngineBridge, sampling_step
from ui.mainwindow import MainWindow
from ui.panels.http_server import HttpServerPanel
from ui.panels.load import LoadPanel

WAIT = 10_000
LOAD_CLIENT = "127.0.0.1:40001"  # a load client's local address (named below)
OTHER_CLIENT = "127.0.0.1:5000"  # anyone else's


def test_sampling_step() -> None:
    assert sampling_step(10_000, None) == 1
    assert sampling_step(300, 300) == 1
    assert sampling_step(301, 300) == 2
    assert sampling_step(2_500, 300) == 10
    assert sampling_step(10**9, 300) == 1000


def publish_from_thread(capture: Capture, each: int, *, load: bool, other: bool) -> None:
    """``each`` messages from a load client and/or from another client, interleaved,
    published from a thread of their own (as the engine's would be)."""

    def work() -> None:
        if load:  # the engine's events when a load client connects
            capture.publish(NodeChanged(NodeInfo(id="k1", kind="load", role="client",
                                                 name="Load test #1",
                                                 state=NodeState.STOPPED)))
            capture.publish(EndpointNamed(LOAD_CLIENT, "k1"))
        conns = [capture.open(protocol="raw", transport=Transport.TCP, client=client,
                              server="127.0.0.1:7007")
                 for client, wanted in ((LOAD_CLIENT, load), (OTHER_CLIENT, other)) if wanted]
        for n in range(each):
            for conn in conns:
                piece = Piece(sender=Sender.CLIENT, time=float(n), summary=f"m{n}",
                              raw=b"x", size=1)
                capture.add(conn, piece)
        for conn in conns:
            capture.close(conn.id)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def follow(bridge: EngineBridge) -> tuple[list[Message], list[int]]:
    passed: list[Message] = []
    steps: list[int] = []
    bridge.messages_added.connect(passed.extend)
    bridge.sampling_changed.connect(steps.append)
    return passed, steps


def test_the_bridge_samples_load_clients_above_its_limit_and_counts_exactly(  # type: ignore[no-untyped-def]
        qtbot) -> None:
    capture = Capture()
    bridge = EngineBridge(capture, sample_above=500)
    try:
        passed, steps = follow(bridge)
        publish_from_thread(capture, 5000, load=True, other=True)
        qtbot.waitUntil(lambda: bridge.message_count == 10_000)
        assert steps and steps[0] == 10
        others = [m.id for m in passed if m.client == OTHER_CLIENT]
        assert others == [m.id for m in capture.messages if m.client == OTHER_CLIENT]
        assert len(others) == 5000  # every other message, at the same rate, passed on
        loads = [m for m in passed if m.client == LOAD_CLIENT]
        assert 0 < len(loads) < 1000
        assert len(loads) + bridge.sampled_out == 5000
        qtbot.waitUntil(lambda: bridge.sampling == 1, timeout=3000)  # quiet: all pass
        assert steps[-1] == 1
    finally:
        bridge.close()


def test_the_bridge_passes_other_traffic_on_whole_at_any_rate(qtbot) -> None:  # type: ignore[no-untyped-def]
    capture = Capture()
    bridge = EngineBridge(capture, sample_above=500)
    try:
        passed, steps = follow(bridge)
        publish_from_thread(capture, 5000, load=False, other=True)
        qtbot.waitUntil(lambda: bridge.message_count == 5000)
        assert [m.id for m in passed] == list(range(1, 5001))
        assert steps == [] and bridge.sampled_out == 0
    finally:
        bridge.close()


def test_the_inspector_samples_the_load_panel_and_shows_everything_else(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    """Two runs of 10 HTTP clients for 2 s against one lab server at once: the load
    panel's, sampled with the note and exact counts, and one that is not a load
    client's, every message of which is in the inspector."""
    bridge, inspector = window.bridge, window.inspector
    bridge.sample_above = 100
    steps: list[int] = []
    bridge.sampling_changed.connect(steps.append)
    server = add_panel(window, qtbot, "server", "http", HttpServerPanel)
    panel = add_panel(window, qtbot, "client", "load", LoadPanel)
    qtbot.waitUntil(lambda: panel.target() == (server.info.address, "http"), timeout=WAIT)
    assert inspector.sampling_label.isHidden()
    panel.clients_spin.setValue(10)
    panel.seconds_spin.setValue(2)
    panel.start_button.click()
    ordinary: Future[LoadSummary] = asyncio.run_coroutine_threadsafe(
        LoadRun(window.lab.engine.route, server.info.address, clients=10, seconds=2).run(),
        window.lab.loop)
    qtbot.waitUntil(lambda: not inspector.sampling_label.isHidden(), timeout=WAIT)
    assert inspector.sampling_label.text().startswith("sampling 1 in ")
    qtbot.waitUntil(lambda: panel.summary is not None and ordinary.done(), timeout=WAIT)
    assert panel.run is not None and ordinary.result().requests > 0
    captured = window.lab.engine.capture.messages
    qtbot.waitUntil(lambda: bridge.message_count == len(captured), timeout=WAIT)
    qtbot.waitUntil(lambda: inspector.sampling_label.isHidden(), timeout=3000)  # quiet

    load = panel.run.endpoints
    rows = [window.model.message(r) for r in range(window.model.rowCount())]
    others = [m.id for m in captured if m.client not in load]
    assert len(others) > 2 * 2 * bridge.sample_above  # as fast as the load, over the limit
    assert [m.id for m in rows if m.client not in load] == others  # all of them, in order
    load_rows = sum(m.client in load for m in rows)
    load_captured = len(captured) - len(others)
    # some sampled out, and counted exactly (how many depends on the rate the machine
    # reached: on a busy one the first second, before K > 1, is a larger share)
    assert 0 < load_rows < load_captured
    assert bridge.sampled_out == load_captured - load_rows
    assert f"{len(rows)} shown of {len(captured)} messages" in inspector.count_label.text()
    assert max(steps) > 1
