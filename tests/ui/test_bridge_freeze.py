"""A busy lab's messages are kept out of the garbage collector's way while the bridge
runs (gc.freeze), every message still arrives, and closing gives them back."""

from __future__ import annotations

import gc

from lab.capture import Capture
from tests.ui.test_bridge import publish_from_thread
from ui.bridge import FREEZE_FIRST, EngineBridge


def test_a_busy_bridge_freezes_what_lives_on_and_close_gives_it_back(qtbot) -> None:  # type: ignore[no-untyped-def]
    capture = Capture()
    bridge = EngineBridge(capture)
    passed: list[object] = []
    bridge.messages_added.connect(passed.extend)
    publish_from_thread(capture, FREEZE_FIRST // 2)
    qtbot.waitUntil(lambda: len(passed) == FREEZE_FIRST // 2)
    assert not bridge.frozen  # a quiet lab: the collector is left alone
    publish_from_thread(capture, FREEZE_FIRST)
    qtbot.waitUntil(lambda: bridge.message_count == FREEZE_FIRST * 3 // 2)
    assert bridge.frozen and gc.get_freeze_count() > 0
    assert [m.id for m in passed] == [m.id for m in capture.messages]  # type: ignore[attr-defined]
    assert len(passed) == FREEZE_FIRST * 3 // 2
    bridge.close()
    assert not bridge.frozen and gc.get_freeze_count() == 0
