"""The sequence diagram's view: selection and keys, following new rows, the context
menu, export (PNG, SVG, in the light look), what is painted (faults, marks, only
the rows and lanes in view), tooltips, 100,000 messages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QColor, QContextMenuEvent, QImage
from PySide6.QtWidgets import QAbstractSlider, QApplication, QMenu, QWidget

from lab.model import Sender
from tests.ui.test_sequence_model import Namer, diagram, message, outside
from ui import theme
from ui.models.messages import MessageFilterProxy
from ui.views import explain, sequence_export, sequence_paint
from ui.views.sequence import SequenceView
from ui.views.sequence_export import EXPORT_LIMITS, EXPORT_WIDTH, describe
from ui.views.sequence_paint import DiagramPainter


def make_view(qtbot, make_message, rows: int = 0) -> SequenceView:  # type: ignore[no-untyped-def]
    _, proxy, seq = diagram(None, namer=Namer())
    view = SequenceView(seq)
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    qtbot.waitExposed(view)
    if rows:
        seq.source.append([make_message(n, f"hello {n}", sender=Sender.CLIENT if n % 2
                                        else Sender.SERVER) for n in range(1, rows + 1)])
    return view


def test_click_and_keys_select_rows(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_view(qtbot, make_message, rows=50)
    clicked: list[int] = []
    view.clicked.connect(lambda index: clicked.append(index.row()))
    view.scroll_to_row(0)
    lay = view.diagram_layout()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(300, view.row_y(2) + lay.row_height // 2))
    assert view.current_row() == 2 and clicked == [2]
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_row() == 4 and view.selected_range() == (3, 4)
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.current_row() == 49 and view.selected_range() == (49, 49)
    assert 0 <= view.row_y(49) < view.viewport().height()  # scrolled into view
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.current_row() == 0 and view.verticalScrollBar().value() == 0
    assert "hello 1" in view.tooltip(0) and view.tooltip(0).startswith("#1 ")


def test_follows_new_rows_at_the_bottom_even_with_a_selection(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """At the bottom, new rows come into view, with a row selected too (presentation
    mode always has one), and the selection stays; scrolled up, the view stays."""
    view = make_view(qtbot, make_message, rows=5)
    source = view.diagram.source
    assert source is not None
    bar = view.verticalScrollBar()
    source.append([make_message(n) for n in range(6, 300)])
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    view.select_row(290)  # selected, still at the bottom: follows
    source.append([make_message(n) for n in range(300, 400)])
    qtbot.waitUntil(lambda: view.row_at(view.viewport().height() - 1) == 398, timeout=2000)
    assert view.current_row() == 290
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)  # the user scrolled up
    source.append([make_message(n) for n in range(400, 500)])
    qtbot.wait(50)
    assert bar.value() == 0 and view.current_row() == 290
    view.selection.clearSelection()
    source.append([make_message(n) for n in range(500, 600)])
    qtbot.wait(50)
    assert bar.value() == 0
    assert view.follow_button.isVisibleTo(view)  # the way back to the newest arrow
    qtbot.mouseClick(view.follow_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.row_at(view.viewport().height() - 1) == 598, timeout=5000)
    assert not view.follow_button.isVisibleTo(view)
    source.append([make_message(n) for n in range(600, 650)])
    qtbot.waitUntil(lambda: view.row_at(view.viewport().height() - 1) == 648, timeout=5000)


def test_following_survives_the_view_shrinking_growing_and_a_zoom(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """Only the user stops following: a shorter view (a lesson's banner), a taller one
    (full screen), a larger font (zoom) and a moment with no room at all keep the
    newest arrow in view; keys up stop it, End starts it again."""
    view = make_view(qtbot, make_message, rows=200)
    bar = view.verticalScrollBar()
    last_shown = lambda: view.row_at(view.viewport().height() - 1)  # noqa: E731
    qtbot.waitUntil(lambda: last_shown() == 199)
    for height in (120, 40, 0, 600, 300):
        view.resize(view.width(), height)
        if height > 60:
            qtbot.waitUntil(lambda: last_shown() == 199, timeout=5000)
    font = view.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    view.setFont(font)
    qtbot.waitUntil(lambda: last_shown() == 199, timeout=5000)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert bar.value() == 0 and not view.follower.following
    view.diagram.source.append([make_message(n) for n in range(201, 210)])
    qtbot.wait(50)
    assert bar.value() == 0
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.follower.following


def test_a_larger_font_makes_larger_rows(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """Zooming (presentation mode) changes the view's font: rows, heads and the
    scroll range follow."""
    view = make_view(qtbot, make_message, rows=200)
    before = view.painter.row_height
    font = view.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    view.setFont(font)
    assert view.painter.row_height > before
    assert view.viewportMargins().top() == view.painter.header_height
    bar = view.verticalScrollBar()
    assert bar.maximum() == 200 * view.painter.row_height - view.viewport().height()


def test_export_png_and_svg(qtbot, make_message, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = make_view(qtbot, make_message, rows=30)
    lay = view.painter.layout(max(view.viewport().width(), EXPORT_WIDTH))
    messages: list[str] = []
    view.exported.connect(messages.append)
    png = tmp_path / "all.png"
    assert view.export(str(png), *view.export_rows("all.png")) == (0, 29)
    image = QImage(str(png))
    assert not image.isNull()
    assert (image.width(), image.height()) == (lay.width, lay.header_height + 30 * lay.row_height)
    assert messages[-1] == f"Wrote 30 messages to {png}"

    view.select_row(10)
    view.select_row(12, extend=True)
    svg = tmp_path / "range.svg"
    assert view.export(str(svg), *view.export_rows("range.svg")) == (10, 12)
    text = svg.read_text()
    assert "<svg" in text and all(f"hello {n}" in text for n in (11, 12, 13))
    assert "hello 10<" not in text and "hello 14<" not in text
    assert "127.0.0.1:7007" in text  # the lane heads

    assert view.export(str(tmp_path / "no" / "such" / "x.png"), 0, 1) is None
    assert messages[-1].startswith("Export failed")
    view.update_export_actions()
    assert all(a.isEnabled() for a in view.export_actions.values())


def test_export_keeps_the_last_rows_of_a_long_range(qtbot, make_message, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = make_view(qtbot, make_message, rows=EXPORT_LIMITS["png"] + 5)
    done = view.export(str(tmp_path / "long.png"), *view.export_rows("all.png"))
    assert done == (5, EXPORT_LIMITS["png"] + 4)


def test_a_hundred_thousand_messages(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """Appending in bridge-sized batches and scrolling end to end (no timing here:
    tests/perf/gui_bench.py measures it)."""
    view = make_view(qtbot, make_message)
    seq = view.diagram
    assert seq.source is not None and isinstance(seq.namer, Namer)
    total, batch = 100_000, 1_000
    for start in range(1, total + 1, batch):
        seq.source.append([make_message(n, sender=Sender.CLIENT if n % 2 else Sender.SERVER,
                                        connection=f"c{n // 10_000}")
                           for n in range(start, start + batch)])
        if start % 20_000 == 1:
            view.viewport().grab()
    assert seq.row_count() == total and len(seq.lanes()) == 2
    assert seq.namer.calls == 2 * 11  # once per connection
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())  # followed to the end
    assert view.row_at(view.viewport().height() - 1) == total - 1
    for value in [*range(bar.maximum(), 0, -(bar.maximum() // 20)), 0]:
        bar.setValue(value)
        view.viewport().grab()
    assert bar.value() == 0 and view.row_at(0) == 0
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.current_row() == total - 1
    proxy = seq.rows
    assert isinstance(proxy, MessageFilterProxy)
    proxy.set_filter_text("message 99999")
    assert seq.row_count() == 1 and seq.arrow(0) is not None
    view.viewport().grab()
    proxy.set_filter_text("")
    assert seq.row_count() == total and len(seq.lanes()) == 2


def test_the_context_menu_is_made_once(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_view(qtbot, make_message, rows=3)
    shown: list[QWidget] = []

    def close_it() -> None:
        menu = QApplication.activePopupWidget()
        assert menu is not None
        shown.append(menu)
        menu.close()
    for _ in range(5):
        QTimer.singleShot(50, close_it)
        QApplication.sendEvent(view.viewport(), QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, QPoint(10, 10), view.mapToGlobal(QPoint(10, 10))))
    assert len(shown) == 5 and len(set(shown)) == 1
    assert len(view.findChildren(QMenu)) == 1


def near(image: QImage, colour: QColor, xs: range, ys: range, slack: int = 12) -> bool:
    """Whether a pixel of ``image`` in ``xs`` × ``ys`` has (about) ``colour``."""
    for y in ys:
        for x in xs:
            c = image.pixelColor(x, y)
            if (abs(c.red() - colour.red()) <= slack and abs(c.green() - colour.green())
                    <= slack and abs(c.blue() - colour.blue()) <= slack):
                return True
    return False


def test_a_fault_is_red_and_an_opening_has_its_dot(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    closed: set[str] = set()
    model, proxy, seq = diagram(None, closed=closed.__contains__)
    view = SequenceView(seq)
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    model.append([make_message(1, "hello"), make_message(2, "hello back", sender=Sender.SERVER),
                  replace(make_message(3, "reset by the Wire"), injected=True),
                  make_message(4, "bye")])
    image = view.viewport().grab().toImage()
    lay, rh = view.diagram_layout(), view.painter.row_height
    client_x, server_x = round(lay.lane_x(0)), round(lay.lane_x(1))
    fault, client = theme.qcolour("fault"), theme.qcolour("client")

    def row(r: int) -> range:
        return range(view.row_y(r), view.row_y(r) + rh)
    head = range(server_x - 9, server_x - 1)  # an arrowhead, filled in the arrow's colour
    assert near(image, fault, head, row(2)) and not near(image, fault, head, row(3))
    assert near(image, client, head, row(3)) and not near(image, client, head, row(2))
    left_of_lane = range(client_x - 14, client_x - 3)  # the hollow dot: it opens
    assert near(image, client, left_of_lane, row(0), slack=40)
    assert not near(image, client, left_of_lane, row(3), slack=40)
    # closed, its last message filtered out: no mark on another row, no crash
    closed.add("c1")
    proxy.set_filter_text("hello")
    assert seq.row_count() == 2 and not any((a := seq.arrow(r)) and a.closes for r in range(2))
    view.viewport().grab()


def test_export_is_light_under_the_dark_look(qtbot, make_message, qapp,  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    view = make_view(qtbot, make_message, rows=5)
    try:
        theme.apply(qapp, theme.Look.DARK)
        assert view.painter.palette.base().color().lightness() < 100
        png = tmp_path / "dark.png"
        view.export(str(png), 0, 4)
        lay = view.painter.layout(max(view.viewport().width(), EXPORT_WIDTH))
        image = QImage(str(png))
        assert image.pixelColor(lay.width - 3, lay.header_height + 2).lightness() > 200
        assert image.pixelColor(lay.width - 3, 2).lightness() > 200  # the heads' band
    finally:
        theme.apply(qapp, theme.Look.LIGHT)


def test_export_says_when_it_takes_only_the_last_rows(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    view = make_view(qtbot, make_message, rows=EXPORT_LIMITS["png"] + 5)
    view.update_export_actions()
    png, svg = view.export_actions["all.png"], view.export_actions["all.svg"]
    assert png.text() == f"Last {EXPORT_LIMITS['png']} rows as PNG…"
    assert f"the last {EXPORT_LIMITS['png']} of the 605 rows" in png.toolTip()
    assert svg.text() == "Whole diagram as SVG…"


def test_tooltips_and_heads_give_addresses(qtbot, make_message, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert sequence_export.explain_text is explain.explain_text  # imported, not looked up
    view = make_view(qtbot, make_message)
    seq = view.diagram
    assert seq.source is not None
    seq.source.append([message(make_message, 1, "GET /", "c1", Sender.CLIENT,
                               "127.0.0.1:50000", "127.0.0.1:8080"),
                       message(make_message, 2, "200 OK", "c1", Sender.SERVER,
                               "127.0.0.1:50000", "127.0.0.1:8080")])
    arrow = seq.arrow(1)
    assert arrow is not None
    text = describe(arrow, seq.lanes())
    assert "HTTP server #1 :8080 → HTTP client #1" in text
    assert "127.0.0.1:8080 → 127.0.0.1:50000" in text
    svg = tmp_path / "heads.svg"
    view.export(str(svg), 0, 1)
    assert "server 127.0.0.1:8080" in svg.read_text()


def test_only_the_lanes_in_view_are_painted(qtbot, make_message,  # type: ignore[no-untyped-def]
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    view = make_view(qtbot, make_message)
    assert view.diagram.source is not None
    view.diagram.source.append([replace(m, client=f"10.0.{m.id // 256}.{m.id % 256}:4000")
                                for m in outside(make_message, 2000)])
    view.grab()
    lay = view.diagram_layout()
    assert lay.lanes == 2001
    heads = []
    real = sequence_paint.meaning
    monkeypatch.setattr(sequence_paint, "meaning",
                        lambda *a: heads.append(a) or real(*a))
    view.horizontalScrollBar().setValue(lay.width // 2)
    view.header.grab()
    assert 0 < len(heads) <= view.width() / lay.spacing + 4


def test_a_hundred_thousand_messages_paint_only_the_rows_in_view(  # type: ignore[no-untyped-def]
        qtbot, make_message, monkeypatch: pytest.MonkeyPatch) -> None:
    view = make_view(qtbot, make_message)
    assert view.diagram.source is not None
    view.diagram.source.append([make_message(n, sender=Sender.CLIENT if n % 2
                                             else Sender.SERVER) for n in range(1, 100_001)])
    painted: list[int] = []
    real = DiagramPainter._paint_arrow
    monkeypatch.setattr(DiagramPainter, "_paint_arrow",
                        lambda self, p, lay, arrow, *a: painted.append(arrow.row)
                        or real(self, p, lay, arrow, *a))
    visible = view.viewport().height() // view.painter.row_height + 1
    for value in (0, view.verticalScrollBar().maximum() // 2,
                  view.verticalScrollBar().maximum()):
        painted.clear()
        view.verticalScrollBar().setValue(value)
        view.viewport().grab()
        assert 0 < len(painted) <= visible + 2
    assert painted[-1] == 99_999


def test_a_shorter_view_keeps_the_newest_arrow_in_view(qtbot, make_message) -> None:  # type: ignore[no-untyped-def]
    """A lesson's text above the diagram grows after a step, so the diagram gets
    shorter: at the bottom, the newest row stays in view; scrolled up, nothing moves."""
    view = make_view(qtbot, make_message, rows=60)
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    view.resize(700, 250)
    qtbot.waitUntil(lambda: view.row_at(view.viewport().height() - 1) == 59, timeout=2000)
    bar.setValue(0)
    view.resize(700, 200)
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    assert bar.value() == 0
