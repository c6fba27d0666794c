"""The inspector's model and filter proxy: Qt's model checks, batching, Δt, filtering."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication

from lab.model import Sender
from ui import theme
from ui.models.messages import (
    COL_DELTA,
    COL_ROUTE,
    COL_SUMMARY,
    MESSAGE_ROLE,
    MessageFilterProxy,
    MessageTableModel,
)


def filled_model(make_message) -> MessageTableModel:  # type: ignore[no-untyped-def]
    model = MessageTableModel()
    model.append([
        make_message(1, '"hello" (5 bytes)', connection="c1"),
        make_message(2, '"hello" (5 bytes)', connection="c1", sender=Sender.SERVER),
        make_message(3, '"world" (5 bytes)', connection="c2"),
        make_message(4, "bad", connection="c2", malformed=True, protocol="udp-echo"),
    ])
    return model


def test_colours_follow_the_look(qapp: QApplication, make_message) -> None:  # type: ignore[no-untyped-def]
    """Asked when painted: who sent a message and the malformed tint, for each look."""
    model = filled_model(make_message)

    def colour(row: int, column: int, role: Qt.ItemDataRole) -> str:
        return str(model.index(row, column).data(role).color().name())

    seen = set()
    try:
        for look in (theme.Look.LIGHT, theme.Look.DARK, theme.Look.HIGH_CONTRAST):
            theme.apply(qapp, look)
            shown = (colour(0, COL_ROUTE, Qt.ItemDataRole.ForegroundRole),
                     colour(1, COL_ROUTE, Qt.ItemDataRole.ForegroundRole),
                     colour(3, 0, Qt.ItemDataRole.BackgroundRole))
            assert shown == (theme.colour("client"), theme.colour("server"),
                             theme.colour("malformed-tint"))
            seen.add(shown)
    finally:
        theme.apply(qapp, theme.Look.LIGHT)
        qapp.setStyleSheet("")
    assert len(seen) == 3


def test_model_passes_qt_model_checks(qtmodeltester, make_message) -> None:  # type: ignore[no-untyped-def]
    model = filled_model(make_message)
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)


def test_proxy_passes_qt_model_checks(qtmodeltester, make_message) -> None:  # type: ignore[no-untyped-def]
    proxy = MessageFilterProxy()
    proxy.setSourceModel(filled_model(make_message))
    qtmodeltester.check(proxy)
    proxy.set_filter_text("hello")
    qtmodeltester.check(proxy)


def test_one_insert_per_batch(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    model = MessageTableModel()
    inserts: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserts.append((first, last)))
    model.append([make_message(n) for n in range(1, 501)])
    model.append([make_message(n) for n in range(501, 503)])
    model.append([])
    assert inserts == [(0, 499), (500, 501)]
    assert model.rowCount() == 502


def test_cells(make_message) -> None:  # type: ignore[no-untyped-def]
    model = filled_model(make_message)
    cell = model.index(1, COL_ROUTE)
    assert cell.data() == "127.0.0.1:7007 → 127.0.0.1:50000"
    assert model.index(0, COL_DELTA).data() == ""  # first on c1
    assert model.index(1, COL_DELTA).data() == "+1.0 ms"  # since #1, same connection
    assert model.index(2, COL_DELTA).data() == ""  # first on c2
    assert model.index(3, COL_SUMMARY).data() == "[malformed] bad"
    assert model.index(3, 0).data(Qt.ItemDataRole.BackgroundRole).color() == theme.qcolour(
        "malformed-tint")
    assert model.index(0, 0).data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(2, 0).data(MESSAGE_ROLE).id == 3
    assert model.headerData(COL_DELTA, Qt.Orientation.Horizontal) == "Δt"
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.data(QModelIndex()) is None


def test_filter_matches_summary_connection_protocol_address(make_message) -> None:  # type: ignore[no-untyped-def]
    proxy = MessageFilterProxy()
    proxy.setSourceModel(filled_model(make_message))
    expectations = {"HELLO": 2, "c2": 2, "udp-echo": 1, "50000": 4, "nothing like it": 0, "": 4}
    for text, rows in expectations.items():
        proxy.set_filter_text(text)
        assert proxy.rowCount() == rows, text


def test_filter_applies_to_new_rows(make_message) -> None:  # type: ignore[no-untyped-def]
    model = filled_model(make_message)
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("world")
    model.append([make_message(5, "world again"), make_message(6, "other")])
    assert proxy.rowCount() == 2


def test_the_pairs_the_inspector_shows_are_the_pairs_the_har_export_writes(qapp) -> None:  # type: ignore[no-untyped-def]
    """One pairing (lab/pairs.py) for the model and HAR: on a captured HTTP+DNS
    conversation (pipelined requests, an unreadable one, DNS answered out of order)."""
    from lab.export import capture_records, to_har
    from tests.lab.test_pairing import http_and_dns

    capture = http_and_dns()
    model = MessageTableModel()
    model.append(capture.messages)
    by_id = {m.id: m for m in capture.messages}
    shown = []
    for m in capture.messages:
        if m.protocol == "http" and not m.malformed and m.fields[0][0] == "method":
            partner = model.partner(m.id)
            answer = by_id[partner] if partner is not None else None
            shown.append((dict(m.fields)["target"], None if answer is None
                          else dict(answer.fields)["status"]))
    entries = to_har(capture_records(capture))["log"]["entries"]
    written = [(entry["request"]["url"].removeprefix("http://x"), entry["response"]["status"])
               for entry in entries]
    assert shown == written == [("/a", 200), ("/b", 404)]
    dns = {m.summary: by_id[p].summary for m in capture.messages
           if m.protocol == "dns" and m.sender is Sender.SERVER
           and (p := model.partner(m.id)) is not None}
    assert dns == {"Response 0x0002 NOERROR A b.lab.test (no records)":
                   "Query 0x0002 A b.lab.test?",
                   "Response 0x0001 NOERROR A a.lab.test (no records)":
                   "Query 0x0001 A a.lab.test?"}
