"""The inspector's filter at scale: 100,000 rows filter to exactly the matching ones,
selections survive, rows appended under a filter are filtered, and the text a row
is matched against is the same as the one the user reads."""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import Qt

from lab.model import Message, Sender
from ui.models.messages import COL_SUMMARY, MESSAGE_ROLE, MessageFilterProxy, MessageTableModel
from ui.views.inspector import InspectorView

CLIENTS = ("127.0.0.1:50001", "127.0.0.1:50002", "10.0.0.7:41000")


def message(n: int) -> Message:
    """Row n: a request or its reply on one of 10 connections."""
    conn = n // 2 % 10 + 1
    text = f"GET /page/{n}" if n % 2 else "200 OK (5 bytes)"
    return Message(id=n, time=time.time(), connection=f"c{conn}",
                   protocol="http" if conn != 7 else "smtp",
                   sender=Sender.CLIENT if n % 2 else Sender.SERVER,
                   client=CLIENTS[conn % 3], server="127.0.0.1:8080", summary=text,
                   size=len(text), raw=text.encode(), malformed=n % 1009 == 0)


def big_model(rows: int = 100_000) -> MessageTableModel:
    model = MessageTableModel()
    for start in range(1, rows + 1, 333):
        model.append([message(n) for n in range(start, min(start + 333, rows + 1))])
    return model


def shown_ids(proxy: MessageFilterProxy) -> list[int]:
    return [proxy.index(r, 0).data(MESSAGE_ROLE).id for r in range(proxy.rowCount())]


def test_a_filter_over_100000_rows_keeps_exactly_the_matching_ones(qapp) -> None:  # type: ignore[no-untyped-def]
    model = big_model()
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    everything = [model.message(r) for r in range(model.rowCount())]
    for text in ("c3", "PAGE/4242", "10.0.0.7", "no such thing", ""):
        proxy.set_filter_text(text)
        needle = text.casefold()
        expected = [m.id for m in everything
                    if needle in " ".join((m.summary, m.connection, m.protocol, m.client,
                                           m.server, m.sender.value)).casefold()]
        assert shown_ids(proxy) == expected, text
    assert proxy.rowCount() == 100_000


def test_the_filter_matches_across_the_summary_and_the_connection(qapp, make_message) -> None:  # type: ignore[no-untyped-def]
    model = MessageTableModel()
    model.append([make_message(1, "hello", connection="c2"),
                  make_message(2, "hello", connection="c3")])
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("Hello C2")  # the text is "hello c2 tcp-echo …"
    assert shown_ids(proxy) == [1]
    proxy.set_filter_text("nothing like it")
    assert proxy.rowCount() == 0
    assert proxy.headerData(COL_SUMMARY, Qt.Orientation.Horizontal) == "Summary"


def test_a_control_connection_keeps_its_data_connections(qapp, make_message) -> None:  # type: ignore[no-untyped-def]
    model = MessageTableModel()
    model.append([make_message(1, "LIST", connection="c1"),
                  replace(make_message(2, "file.txt", connection="c5"), parent="c1"),
                  make_message(3, "other", connection="c2")])
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("c1")
    assert shown_ids(proxy) == [1, 2]
    assert proxy.index(1, 3).data() == "c1 ↳ c5"


def test_rows_appended_under_a_filter_are_filtered_in_one_insert(qapp) -> None:  # type: ignore[no-untyped-def]
    model = big_model(1_000)
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("c3")
    before = proxy.rowCount()
    inserts: list[tuple[int, int]] = []
    proxy.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    model.append([message(n) for n in range(1_001, 1_101)])
    assert inserts == [(before, proxy.rowCount() - 1)]
    assert all(proxy.index(r, 3).data() == "c3" for r in range(proxy.rowCount()))
    model.append([message(n) for n in (1_101, 1_102)])  # c2's: none shown, no insert
    assert len(inserts) == 1


def test_the_proxy_passes_qt_model_checks_while_rows_arrive(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = big_model(300)
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.set_filter_text("c4")
    model.append([message(n) for n in range(301, 401)])
    model.set_highlighted(proxy.mapToSource(proxy.index(0, 0)).row())
    proxy.set_filter_text("")
    model.clear()
    assert proxy.rowCount() == 0


def test_a_selected_row_survives_a_filter_that_shows_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = big_model(20_000)
    view = InspectorView(model)
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()
    assert view.select_message(4243)  # c2's request
    view.filter_edit.setText("c2")
    assert view.selected_message() is not None and view.selected_message().id == 4243
    assert view.count_label.text() == f"{view.proxy.rowCount()} of 20000 messages"
    assert view.table.horizontalHeader().sectionSize(COL_SUMMARY) > 0
    view.filter_edit.setText("c3")  # hides it: nothing is selected any more
    assert view.selected_message() is None
    view.filter_edit.setText("")
    assert view.proxy.rowCount() == 20_000
