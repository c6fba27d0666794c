"""The bridge: events published on the engine thread arrive on the Qt thread, batched."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from lab.capture import Capture
from lab.model import NodeChanged, NodeInfo, NodeRemoved, NodeState, Piece, Sender, Transport
from ui.bridge import EngineBridge


def publish_from_thread(capture: Capture, messages: int) -> None:
    def work() -> None:
        conn = capture.open(protocol="raw", transport=Transport.TCP,
                            client="127.0.0.1:5000", server="127.0.0.1:7007")
        for n in range(messages):
            piece = Piece(sender=Sender.CLIENT, time=float(n), summary=f"m{n}", raw=b"x", size=1)
            capture.add(conn, piece)
        capture.close(conn.id)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_messages_arrive_in_order_in_few_batches(qtbot) -> None:  # type: ignore[no-untyped-def]
    capture = Capture()
    bridge = EngineBridge(capture)
    batches: list[list[object]] = []
    threads: set[object] = set()

    def got(batch: list[object]) -> None:
        threads.add(QThread.currentThread())
        batches.append(batch)

    bridge.messages_added.connect(got)
    publish_from_thread(capture, 5000)
    qtbot.waitUntil(lambda: sum(map(len, batches)) == 5000)
    assert len(batches) < 10  # batched on the timer, not one signal per message
    ids = [m.id for batch in batches for m in batch]  # type: ignore[attr-defined]
    assert ids == list(range(1, 5001))
    assert threads == {bridge.thread()}
    assert bridge.message_count == 5000
    qtbot.waitUntil(lambda: bridge.connections.get("c1") is not None)
    assert bridge.open_connections() == 0
    bridge.close()


def test_node_events_keep_the_latest_state(qtbot) -> None:  # type: ignore[no-untyped-def]
    capture = Capture()
    bridge = EngineBridge(capture)
    changed: list[NodeInfo] = []
    removed: list[str] = []
    bridge.node_changed.connect(changed.append)
    bridge.node_removed.connect(removed.append)
    info = NodeInfo(id="s1", kind="tcp-echo", role="server", name="TCP echo server #1",
                    state=NodeState.STARTING)
    capture.publish(NodeChanged(info))
    capture.publish(NodeChanged(NodeInfo(**{**_fields(info), "state": NodeState.RUNNING})))
    qtbot.waitUntil(lambda: bool(changed))
    assert [n.state for n in changed] == [NodeState.RUNNING]
    assert [n.id for n in bridge.running_servers()] == ["s1"]
    capture.publish(NodeRemoved("s1"))
    qtbot.waitUntil(lambda: removed == ["s1"])
    assert bridge.nodes == {}
    bridge.close()
    capture.publish(NodeRemoved("s2"))  # after close: no longer listening
    qtbot.wait(100)
    assert removed == ["s1"]


def _fields(info: NodeInfo) -> dict[str, object]:
    return {name: getattr(info, name) for name in info.__slots__}  # type: ignore[attr-defined]


def test_a_day_of_short_connections_keeps_the_newest_closed_ones(  # type: ignore[no-untyped-def]
        qtbot, monkeypatch) -> None:
    """Only the newest CLOSED_KEPT closed connections stay; every one is counted in
    ``seen`` and an old one is still known closed (the diagram's last arrow)."""
    monkeypatch.setattr("ui.bridge.CLOSED_KEPT", 5)
    capture = Capture()
    bridge = EngineBridge(capture)

    def work() -> None:
        for n in range(40):
            conn = capture.open(protocol="raw", transport=Transport.TCP,
                                client=f"127.0.0.1:{5000 + n}", server="127.0.0.1:7007")
            capture.add(conn, Piece(sender=Sender.CLIENT, time=float(n), summary="m",
                                    raw=b"x", size=1))
            if n < 39:
                capture.close(conn.id)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bridge.message_count == 40)
    assert bridge.seen == 40 and bridge.open_connections() == 1
    assert len(bridge.connections) == 6  # the open one and the newest 5 closed
    assert bridge.is_closed("c1") and bridge.is_closed("c39") and not bridge.is_closed("c40")
    assert not bridge.is_closed("c41")  # not seen yet
    bridge.close()
