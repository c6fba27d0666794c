"""A capture that spills to its store (lab/spill.py) shows whole in the window: the
inspector shows every row (old ones read back from the store), the filter finds rows
older than memory, the diagram draws them, partners are still found, and the model
keeps only about the capture's window of Messages."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from lab.capture import Capture
from lab.engine.facade import Engine
from lab.model import Message, Piece, Sender, Transport
from lab.pairs import Pairs
from ui.bridge import EngineBridge
from ui.engine_thread import EngineThread
from ui.mainwindow import MainWindow
from ui.models.filter import MessageFilterProxy
from ui.models.messages import COL_SUMMARY, MessageTableModel

WINDOW = 50
WAIT = 15_000


def summary(n: int) -> str:
    """Message n's text: every 97th is not ASCII (SQLite's lower() folds ASCII only)."""
    return f"Grüße {n}" if n % 97 == 0 else f"m{n}"


def publish(capture: Capture, first: int, count: int, protocol: str = "raw") -> None:
    """``count`` messages on one connection, from the engine's side (another thread);
    on "http" a GET and its 200 in turn."""
    def work() -> None:
        conn = capture.open(protocol=protocol, transport=Transport.TCP,
                            client="127.0.0.1:5000", server="127.0.0.1:7007")
        for n in range(first, first + count):
            ask = n % 2 == 0
            fields = ((("method", "GET"),) if ask else (("status", 200),)) \
                if protocol == "http" else ()
            capture.add(conn, Piece(sender=Sender.CLIENT if ask else Sender.SERVER,
                                    time=float(n), summary=summary(n), raw=b"x", size=1,
                                    fields=fields))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


@pytest.fixture
def small(ui_loop, qapp: QApplication, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MainWindow, Capture]]:
    """The main window over an engine whose capture keeps WINDOW messages in memory."""
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CSLAB_SPILL_DIR", str(tmp_path / "spill"))
    capture = Capture(window=WINDOW)
    lab = EngineThread(Engine(capture))
    lab.start()
    bridge = EngineBridge(capture)
    settings = QSettings(str(tmp_path / "cslab.ini"), QSettings.Format.IniFormat)
    window = MainWindow(lab, bridge, server_port=0, settings=settings)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    try:
        yield window, capture
    finally:
        window.close()
        bridge.close()
        lab.stop()


def fill(window: MainWindow, capture: Capture, qtbot, count: int,  # type: ignore[no-untyped-def]
         protocol: str = "raw") -> None:
    """``count`` messages captured, committed to the store and shown; then a few more,
    so that the model lets go of what the store has."""
    publish(capture, 0, count, protocol)
    qtbot.waitUntil(lambda: capture.messages.recorder is not None
                    and capture.messages.recorder.committed >= count, timeout=WAIT)
    publish(capture, count, 10, protocol)
    qtbot.waitUntil(lambda: window.model.rowCount() == count + 10, timeout=WAIT)


def live_messages() -> int:
    gc.collect()
    return sum(isinstance(o, Message) for o in gc.get_objects())


def test_every_row_shows_and_the_model_keeps_only_a_window(small, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, capture = small
    fill(window, capture, qtbot, 3000)
    model, proxy = window.model, window.inspector.proxy
    assert capture.messages.path is not None and capture.messages.first_kept > 0
    assert len(model._recent) - model._cut <= WINDOW + 10 + 1  # noqa: SLF001
    assert live_messages() < 500  # 3,010 rows: the capture's and the model's windows
    window.inspector.table.scrollToTop()
    assert proxy.index(0, COL_SUMMARY).data() == "Grüße 0"  # read back from the store
    assert proxy.index(1, COL_SUMMARY).data() == "m1"
    assert proxy.index(1500, 0).data() == "1501"
    assert [model.message(r).summary for r in (0, 1499, 3009)] == \
        [summary(n) for n in (0, 1499, 3009)]
    assert proxy.index(3009, COL_SUMMARY).data() == "m3009"
    assert live_messages() < 500 + 2000  # and a few blocks read back


def test_memory_goes_back_to_the_window_once_the_store_caught_up(small, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, capture = small
    publish(capture, 0, 2000)  # then nothing more: the model lets go on its own
    qtbot.waitUntil(lambda: window.model.rowCount() == 2000, timeout=WAIT)
    qtbot.waitUntil(lambda: window.model.kept() <= WINDOW, timeout=WAIT)
    assert window.model.first_kept == 2000 - WINDOW
    assert window.inspector.proxy.index(0, COL_SUMMARY).data() == "Grüße 0"


def test_after_a_clear_rows_come_from_the_new_store(small, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, capture = small
    fill(window, capture, qtbot, 1000)
    old = capture.messages.path
    thread = threading.Thread(target=capture.clear)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=WAIT)
    publish(capture, 5000, 600)
    qtbot.waitUntil(lambda: window.model.rowCount() == 600
                    and window.model.kept() <= WINDOW, timeout=WAIT)
    assert capture.messages.path not in (None, old)
    assert window.inspector.proxy.index(0, COL_SUMMARY).data() == "m5000"
    window.inspector.filter_edit.setText("m501")
    qtbot.waitUntil(lambda: not window.inspector.proxy.searching, timeout=WAIT)
    proxy = window.inspector.proxy
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == \
        [str(n - 4999) for n in range(5010, 5020)]


def test_the_filter_finds_rows_older_than_memory(small, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, capture = small
    fill(window, capture, qtbot, 3000)
    proxy = window.inspector.proxy
    for text, wanted in (("M29", [n for n in range(3010) if "m29" in summary(n)]),
                         ("GRÜSSE", [n for n in range(3010) if n % 97 == 0]),
                         ("m1 c", [1])):  # the summary, then the connection
        window.inspector.filter_edit.setText(text)
        qtbot.waitUntil(lambda: not proxy.searching, timeout=WAIT)
        shown = [proxy.index(r, COL_SUMMARY).data() for r in range(proxy.rowCount())]
        assert shown == [summary(n) for n in wanted], text
    # the same rows as a model that keeps every message in memory
    whole = MessageTableModel()
    whole.append(list(capture.messages))
    plain = MessageFilterProxy()
    plain.setSourceModel(whole)
    for text in ("m29", "grü", "7007 raw", "c1"):
        plain.set_filter_text(text)
        window.inspector.filter_edit.setText(text)
        qtbot.waitUntil(lambda: not proxy.searching, timeout=WAIT)
        assert list(proxy.source_rows() or []) == list(plain.source_rows() or []), text
    window.inspector.filter_edit.clear()
    assert proxy.rowCount() == 3010


def test_the_diagram_draws_old_rows(small, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, capture = small
    fill(window, capture, qtbot, 2000)
    diagram = window.diagram
    assert diagram.row_count() == 2010
    first = diagram.arrow(0)
    assert first is not None and first.message.summary == "Grüße 0" and first.opens
    assert len(diagram.lanes()) == 2
    window.inspector.filter_edit.setText("m12")
    qtbot.waitUntil(lambda: not window.inspector.proxy.searching, timeout=WAIT)
    arrow = diagram.arrow(0)
    assert arrow is not None and arrow.message.summary == "m12"


def test_partners_of_old_rows_are_found_in_the_store(small, qtbot,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    window, capture = small
    fill(window, capture, qtbot, 600, protocol="http")
    model = window.model
    model.pairs.limit = 20  # let pairs go as a long capture would
    model.pairs._let_go(len(model.pairs._partner) - 40)  # noqa: SLF001
    assert model.pairs.horizon > 0 and not model.pairs.known(3)
    assert model.partner(3) == 4 and model.partner(4) == 3  # from the store
    assert model.partner(609) == 610  # in memory
    assert window.inspector.select_message(3)  # the partner is tinted
    assert model._highlighted == 3  # noqa: SLF001  (row 3 shows id 4)


def test_pairs_with_a_limit_forget_the_oldest() -> None:
    pairs = Pairs(limit=2)
    for n in range(1, 41):
        pairs.add(Message(id=n, time=float(n), connection="c1", protocol="http",
                          sender=Sender.CLIENT if n % 2 else Sender.SERVER,
                          client="a:1", server="b:2", summary="", size=0, raw=b"",
                          fields=(("method", "GET"),) if n % 2 else (("status", 200),)))
    assert len(pairs) <= 8 and pairs.partner(40) == 39 and pairs.horizon > 0
    assert not pairs.known(1) and pairs.known(40)
