"""Sampling at high rates: above its limit the bridge passes on 1 message in K, the
inspector says so ("sampling 1 in K") and its count stays exact."""

from __future__ import annotations

from lab.capture import Capture
from tests.ui.test_bridge import publish_from_thread
from ui.bridge import EngineBridge, sampling_step
from ui.mainwindow import MainWindow


def test_sampling_step() -> None:
    assert sampling_step(10_000, None) == 1
    assert sampling_step(300, 300) == 1
    assert sampling_step(301, 300) == 2
    assert sampling_step(2_500, 300) == 10
    assert sampling_step(10**9, 300) == 1000


def test_the_bridge_samples_above_its_limit_and_counts_exactly(qtbot) -> None:  # type: ignore[no-untyped-def]
    capture = Capture()
    bridge = EngineBridge(capture, sample_above=500)
    passed: list[object] = []
    steps: list[int] = []
    bridge.messages_added.connect(passed.extend)
    bridge.sampling_changed.connect(steps.append)
    publish_from_thread(capture, 5000)
    qtbot.waitUntil(lambda: bridge.message_count == 5000)
    assert steps and steps[0] == 10
    assert len(passed) + bridge.sampled_out == 5000
    assert 0 < len(passed) < 1000
    qtbot.waitUntil(lambda: bridge.sampling == 1, timeout=3000)  # quiet again: all pass
    assert steps[-1] == 1
    bridge.close()


def test_the_inspector_shows_sampling_and_exact_counts(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    bridge = window.bridge
    bridge.sample_above = 200
    inspector = window.inspector
    assert inspector.sampling_label.isHidden()
    publish_from_thread(bridge_capture(window), 3000)
    qtbot.waitUntil(lambda: bridge.message_count >= 3000, timeout=5000)
    qtbot.waitUntil(lambda: not inspector.sampling_label.isHidden(), timeout=2000)
    assert inspector.sampling_label.text().startswith("sampling 1 in ")
    shown = window.model.rowCount()
    assert shown < 3000
    assert f"{shown} shown of 3000 messages" in inspector.count_label.text()
    last = window.model.message(shown - 1)
    assert inspector.select_message(last.id)
    qtbot.waitUntil(lambda: inspector.sampling_label.isHidden(), timeout=3000)
    assert "of 3000 messages" in inspector.count_label.text()  # still exact afterwards


def bridge_capture(window: MainWindow) -> Capture:
    return window.lab.engine.capture
