"""The inspector: the filter box, following new rows, selections that stay put, details."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSlider, QApplication, QWidget

from lab.model import Sender
from ui.models.messages import MessageTableModel
from ui.views.hexview import hex_dump
from ui.views.inspector import FILTER_HINT, InspectorView, first_visible_index


def make_inspector(qtbot, make_message, rows: int = 0) -> InspectorView:  # type: ignore[no-untyped-def]
    model = MessageTableModel()
    view = InspectorView(model)
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()
    qtbot.waitExposed(view)
    if rows:
        model.append([make_message(n, f"row {n}") for n in range(1, rows + 1)])
    return view


def test_filter_box_narrows_rows(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_inspector(qtbot, make_message)
    view.model.append([make_message(1, '"hello" (5 bytes)'), make_message(2, '"bye" (3 bytes)'),
                       make_message(3, '"hello again" (11 bytes)')])
    assert view.filter_edit.placeholderText() == FILTER_HINT
    assert view.proxy.rowCount() == 3
    qtbot.keyClicks(view.filter_edit, "Hello")
    assert view.proxy.rowCount() == 2
    assert view.count_label.text() == "2 of 3 messages"
    view.filter_edit.clear()
    assert view.proxy.rowCount() == 3


def test_ctrl_f_focuses_the_filter(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_inspector(qtbot, make_message, rows=3)
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view.table)
    qtbot.keyClick(view.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.filter_edit.hasFocus())


def test_selected_row_stays_selected_and_in_place(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_inspector(qtbot, make_message, rows=5)
    view.table.selectRow(0)
    top_before = first_visible_index(view.table).row()
    for start in range(6, 500, 50):
        view.model.append([make_message(n, f"row {n}") for n in range(start, start + 50)])
        qtbot.wait(5)
    rows = view.table.selectionModel().selectedRows()
    assert [index.row() for index in rows] == [0]
    assert view.selected_message() is not None and view.selected_message().id == 1
    assert first_visible_index(view.table).row() == top_before == 0


def test_follows_new_rows_when_at_bottom_and_nothing_selected(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_inspector(qtbot, make_message, rows=5)
    bar = view.table.verticalScrollBar()
    view.model.append([make_message(n, f"row {n}") for n in range(6, 300)])
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    # scrolled up by the user (the scroll bar, the wheel): stays there
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)
    view.model.append([make_message(n, f"row {n}") for n in range(300, 400)])
    qtbot.wait(50)
    assert bar.value() == 0
    # End (the user's key) goes to the newest row and follows again
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.follower.following, timeout=5000)
    view.model.append([make_message(n, f"row {n}") for n in range(400, 450)])
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() > 0, timeout=5000)


def test_follows_at_bottom_while_the_selected_row_stays_in_view(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """A selection near the end does not stop following (presentation mode always
    has one); following stops before it would push the selected row out of view."""
    view = make_inspector(qtbot, make_message, rows=300)
    bar = view.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    view.table.selectRow(298)
    before = bar.maximum()
    view.model.append([make_message(301, "row 301")])
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() > before)  # followed
    view.model.append([make_message(n, f"row {n}") for n in range(302, 400)])
    qtbot.wait(50)
    rect = view.table.visualRect(view.proxy.index(298, 0))
    assert rect.intersects(view.table.viewport().rect())  # kept in view, not followed
    assert [index.row() for index in view.table.selectionModel().selectedRows()] == [298]


def test_details_name_the_ends_and_the_control_connection(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """The ends as the lab names them (the window gives its lab/naming.py namer), and
    a data connection by its control connection, both from the Message itself."""
    view = make_inspector(qtbot, make_message)
    view.namer = lambda message, side: "Echo server #1 :7007" if side is Sender.SERVER else (
        "127.0.0.1")  # an outside client, named by its host: the address alone
    view.model.append([replace(make_message(1, "data"), connection="c5", parent="c1")])
    view.table.selectRow(0)
    fields = {view.fields.item(r, 0).text(): view.fields.item(r, 1).text()
              for r in range(view.fields.rowCount())}
    assert fields["connection"] == "c1 ↳ c5"
    assert fields["to"] == "Echo server #1 :7007 (127.0.0.1:7007)"
    assert fields["from"] == "127.0.0.1:50000"


def test_details_show_fields_and_bytes(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_inspector(qtbot, make_message)
    view.model.append([make_message(1, "hello"), make_message(2, "hello world!")])
    view.table.selectRow(1)
    fields = {view.fields.item(r, 0).text(): view.fields.item(r, 1).text()
              for r in range(view.fields.rowCount())}
    assert fields["message"] == "#2"
    assert fields["connection"] == "c1"
    assert fields["sender"] == "client"
    assert fields["from"] == "127.0.0.1:50000" and fields["to"] == "127.0.0.1:7007"
    assert fields["size"] == "12 bytes"
    assert fields["flags"] == "none"
    assert fields["length"] == "12"
    assert fields["Δt"] == "+1.0 ms"
    dump = view.hex.toPlainText()  # 8 or 16 bytes a line, as the pane's width allows
    assert dump.startswith("00000000  68 65 6c 6c 6f 20 77 6f ") and "|hello wo" in dump
    assert view.hex.isReadOnly()
    view.table.clearSelection()
    assert view.fields.rowCount() == 0 and view.hex.toPlainText() == ""


def test_hex_dump_layout() -> None:
    dump = hex_dump(bytes(range(0x41, 0x41 + 18)) + b"\x00\xff")
    lines = dump.splitlines()
    assert lines[0] == ("00000000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  "
                        "|ABCDEFGHIJKLMNOP|")
    assert lines[1].startswith("00000010  51 52 00 ff ")
    assert lines[1].endswith("|QR..|")
    assert hex_dump(b"") == ""
    narrow = hex_dump(b"ABCDEFGHIJ", 8).splitlines()
    assert narrow == ["00000000  41 42 43 44 45 46 47 48  |ABCDEFGH|",
                      "00000008  49 4a                    |IJ|"]


def test_no_widget_per_row(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_inspector(qtbot, make_message)
    before = len(view.findChildren(QWidget))
    view.model.append([make_message(n) for n in range(1, 5001)])
    assert len(view.findChildren(QWidget)) == before


def test_selecting_a_response_highlights_its_request(qtbot) -> None:  # type: ignore[no-untyped-def]
    from lab.model import Sender
    from tests.lab.test_pairing import ANSWERS, PIPELINED, http_capture
    from ui import theme

    view = InspectorView(MessageTableModel())
    qtbot.addWidget(view)
    view.model.append(http_capture((Sender.CLIENT, PIPELINED), (Sender.SERVER, ANSWERS)))

    def tint(row: int) -> object:
        brush = view.model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole)
        return brush.color() if brush is not None else None

    assert view.select_message(4)  # "404 Not Found" answers "GET /b", row 1
    assert tint(1) == theme.qcolour("partner-tint") and tint(0) is None
    shown = {view.fields.item(r, 0).text(): view.fields.item(r, 1).text()
             for r in range(view.fields.rowCount())}
    assert shown["answers"] == "#2 (highlighted)"
    assert view.select_message(1)  # "GET /a" is answered by "200 OK", row 2
    assert tint(2) == theme.qcolour("partner-tint") and tint(1) is None


def test_filtering_out_a_selected_row_that_has_a_partner(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """The partner's tint goes when the filter removes the selected row: the proxy
    must not re-filter on that change mid-filter (it used to end up empty)."""
    from dataclasses import replace

    from lab.model import Sender
    view = make_inspector(qtbot, make_message)
    view.model.append([
        replace(make_message(1, "GET /"), protocol="http", fields=(("method", "GET"),)),
        replace(make_message(2, "200 OK", sender=Sender.SERVER), protocol="http",
                fields=(("status", 200),)),
        make_message(3, "POST /api/notes")])
    assert view.select_message(1) and view.model.partner(1) == 2
    view.filter_edit.setText("notes")
    assert view.proxy.rowCount() == 1
    assert view.count_label.text() == "1 of 3 messages"
