"""The panel columns scroll up and down only: panels are as wide as the column, the
column asks for the width its widest panel needs, and rows of buttons wrap."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QPushButton, QVBoxLayout, QWidget

from ui.mainwindow import MainWindow
from ui.panels.flow import FlowLayout
from ui.panels.ftp_client import FtpClientPanel
from ui.panels.http_browser import HttpBrowserPanel
from ui.panels.http_composer import HttpComposerPanel
from ui.views.column import COMPACT_WIDTH, MIN_WIDTH, PanelColumn

WAIT = 15000


def wide_panel(width: int) -> QGroupBox:
    """A panel whose layout asks for ``width`` (as a row of buttons would)."""
    panel = QGroupBox("A panel")
    inner = QWidget(panel)
    inner.setMinimumSize(width, 400)
    QVBoxLayout(panel).addWidget(inner)
    return panel


def test_panels_take_the_columns_width_and_it_never_scrolls_sideways(qtbot) -> None:  # type: ignore[no-untyped-def]
    column = PanelColumn("Clients", "they ask", "Add a client.")
    qtbot.addWidget(column)
    column.resize(320, 300)
    column.show()
    assert column.minimumSizeHint().width() == MIN_WIDTH
    wide = wide_panel(500)
    column.add(wide)
    column.add(wide_panel(100))
    qtbot.waitUntil(lambda: column.minimumSizeHint().width() > 500)  # room asked for it
    column.resize(320, 300)  # narrower than it asks: a splitter would not, a test may
    qtbot.wait(50)
    bar = column.scroll_area.horizontalScrollBar()
    viewport = column.scroll_area.viewport().width()
    assert bar.maximum() == 0 and bar.value() == 0
    assert column.scroll_area.widget().width() == viewport
    assert all(panel.width() <= viewport for panel in column.panels())
    assert column.scroll_area.verticalScrollBar().maximum() > 0  # down, still


def test_a_compact_column_asks_for_little_and_never_scrolls_sideways(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Presentation mode makes the columns compact: the diagram gets the room."""
    column = PanelColumn("Clients", "they ask", "Add a client.")
    qtbot.addWidget(column)
    column.add(wide_panel(500))
    column.show()
    qtbot.waitUntil(lambda: column.minimumSizeHint().width() > 500)
    column.compact = True
    assert column.minimumSizeHint().width() == COMPACT_WIDTH < MIN_WIDTH
    column.resize(COMPACT_WIDTH, 300)
    qtbot.wait(50)
    assert column.scroll_area.horizontalScrollBar().maximum() == 0
    assert column.scroll_area.widget().width() == column.scroll_area.viewport().width()
    column.compact = False
    assert column.minimumSizeHint().width() > 500


def test_the_last_panel_added_is_scrolled_into_view(qtbot) -> None:  # type: ignore[no-untyped-def]
    column = PanelColumn("Servers", "they answer", "Add a server.")
    qtbot.addWidget(column)
    column.resize(320, 300)
    column.show()
    panels = [wide_panel(100) for _ in range(3)]
    for panel in panels:
        column.add(panel)
    bar = column.scroll_area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() > 0)
    top = panels[-1].mapTo(column.scroll_area.viewport(), panels[-1].rect().topLeft()).y()
    assert top == 0  # taller than the view: its top shows


def test_a_flow_layout_wraps_its_buttons(qtbot) -> None:  # type: ignore[no-untyped-def]
    host = QWidget()
    qtbot.addWidget(host)
    outer = QVBoxLayout(host)
    flow = FlowLayout()
    buttons = [QPushButton(f"Button {n}") for n in range(5)]
    for button in buttons:
        flow.addWidget(button)
    outer.addLayout(flow)
    widest = max(b.sizeHint().width() for b in buttons)
    assert flow.minimumSize().width() == widest
    assert flow.sizeHint().width() >= 5 * widest - 10
    one_row = flow.heightForWidth(flow.sizeHint().width())
    assert flow.heightForWidth(widest) > 4 * buttons[0].sizeHint().height()  # one a row
    assert flow.heightForWidth(3 * widest + 8) == 2 * one_row + 4  # three, two, 4 px apart
    host.resize(widest + 20, 400)
    host.show()
    qtbot.waitUntil(lambda: len({b.y() for b in buttons}) == 5)
    assert all(b.x() == buttons[0].x() for b in buttons)


def test_client_panels_fit_the_window_at_1280x720(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The panels that ask most of the column's width, in a window of a projector's size."""
    for kind in ("http", "ftp", "browser"):
        window.client_actions[kind].trigger()
    qtbot.waitUntil(lambda: len(window.clients.panels()) == 3, timeout=WAIT)
    window.resize(1280, 720)
    qtbot.wait(100)
    column = window.clients
    assert window.minimumSizeHint().width() <= 1280
    assert column.scroll_area.horizontalScrollBar().maximum() == 0
    viewport = column.scroll_area.viewport().width()
    for panel in column.panels():
        assert isinstance(panel, (HttpComposerPanel, FtpClientPanel, HttpBrowserPanel))
        assert panel.minimumSizeHint().width() <= panel.width() <= viewport, type(panel)
    ftp = next(p for p in column.panels() if isinstance(p, FtpClientPanel))
    assert ftp.table.horizontalHeader().textElideMode() is Qt.TextElideMode.ElideRight
