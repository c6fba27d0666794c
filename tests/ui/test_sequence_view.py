"""The sequence diagram's view: selection and keys, following new rows, export (PNG,
SVG), 100,000 messages."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from lab.model import Sender
from tests.ui.test_sequence_model import Namer, diagram
from ui.models.messages import MessageFilterProxy
from ui.views.sequence import SequenceView
from ui.views.sequence_export import EXPORT_LIMITS, EXPORT_WIDTH


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
    bar.setValue(0)  # the user scrolled up: stays there, selection or not
    source.append([make_message(n) for n in range(400, 500)])
    qtbot.wait(50)
    assert bar.value() == 0 and view.current_row() == 290
    view.selection.clearSelection()
    source.append([make_message(n) for n in range(500, 600)])
    qtbot.wait(50)
    assert bar.value() == 0


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
