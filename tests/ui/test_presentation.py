"""Presentation mode and zoom in the real window, with real conversations in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QTableView

from tests.ui.demo_conversations import conversations, select
from tests.ui.helpers import add_panel
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.panels.dns_client import DnsClientPanel
from ui.panels.ftp_client import FtpClientPanel
from ui.panels.http_server import HttpServerPanel
from ui.panels.mail_reader import MailReaderPanel
from ui.presentation import NORMAL_KEY

WAIT = 30_000


def size_of(widget: object) -> float:
    QApplication.processEvents()  # the application font reaches widgets by events
    return widget.font().pointSizeF()  # type: ignore[attr-defined]




@pytest.fixture
def talking(stage: MainWindow, qtbot, tmp_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    window = stage
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    task = spawn(conversations(window, downloads))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.exception() is None
    return window


def test_f11_presents_the_diagram_and_the_explained_message_and_esc_restores(
        talking: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = talking
    assert select(window, "GET /style.css")
    table, details = window.inspector.table, window.inspector.details
    normal = size_of(window.wire)
    tab = details.currentIndex()
    assert details.currentWidget() is not window.inspector.explain

    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: window.view.presentation.active, timeout=WAIT)
    assert window.view.present_action.isChecked()
    assert window.isFullScreen()
    assert not table.isVisible() and not window.statusBar().isVisible()
    assert window.wire.isVisible() and details.isVisible()
    assert details.currentWidget() is window.inspector.explain  # the message in words
    assert "style.css" in window.inspector.explain.meaning_text()
    presenting = size_of(window.wire)
    assert presenting >= normal * 1.2
    assert size_of(window.clients) == pytest.approx(presenting)  # the panels too

    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert size_of(window.wire) > presenting

    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.view.presentation.active, timeout=WAIT)
    assert not window.view.present_action.isChecked()
    assert not window.isFullScreen()
    assert table.isVisible() and window.statusBar().isVisible()
    assert details.currentIndex() == tab
    assert size_of(window.wire) == pytest.approx(normal)
    assert window.view.settings.value(NORMAL_KEY) is None  # presenting kept its own zoom


def test_zoom_is_remembered_and_grows_the_inspector_rows(
        stage: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = stage
    rows = window.inspector.table.verticalHeader().defaultSectionSize()
    normal = size_of(window.inspector.table)
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.view.presentation.zoom == 125
    assert size_of(window.inspector.table) == pytest.approx(normal * 1.25)
    assert window.inspector.table.verticalHeader().defaultSectionSize() == round(rows * 1.25)
    assert window.view.settings.value(NORMAL_KEY) == 125
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert size_of(window.inspector.table) == pytest.approx(normal)
    assert window.inspector.table.verticalHeader().defaultSectionSize() == rows


def test_tables_made_while_zoomed_come_back_to_their_size_at_100(
        stage: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """A panel made at 150% sizes its table from its font, so 100% gives rows (and a
    column) as big as a panel made at 100% has: not 150%'s pixels shrunk."""
    window = stage
    window.view.presentation.set_zoom(150)
    panels = [add_panel(window, qtbot, "client", kind, cls) for kind, cls in
              (("pop3", MailReaderPanel), ("ftp", FtpClientPanel), ("dns", DnsClientPanel))]
    site = add_panel(window, qtbot, "server", "http", HttpServerPanel)
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.view.presentation.zoom == 100
    line = QFontMetrics(QApplication.font()).height()
    made_at_100 = window.inspector.table.verticalHeader().defaultSectionSize()  # line + 6
    assert made_at_100 >= line + 6
    for panel in panels:
        table = panel.table
        assert isinstance(table, QTableView)
        assert table.verticalHeader().defaultSectionSize() == made_at_100, type(panel)
    title = QFontMetrics(QApplication.font()).horizontalAdvance("A note's title")
    assert site.notes_view.columnWidth(1) >= title


def test_the_diagram_scrolls_sideways_to_the_selected_arrow(
        talking: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """When its lanes are wider than the view (a narrow window), selecting a message
    brings its arrow into view from lane to lane, either way."""
    window = talking
    wire = window.wire
    wire.setMaximumWidth(360)
    qtbot.waitUntil(lambda: wire.width() <= 360)
    bar = wire.horizontalScrollBar()

    def shows_selected() -> bool:
        row = wire.current_row()
        arrow = wire.diagram.arrow(row) if row is not None else None
        assert arrow is not None
        lay = wire.diagram_layout()
        xs = [lay.lane_x(arrow.start) - bar.value(), lay.lane_x(arrow.end) - bar.value()]
        return all(0 <= x <= wire.viewport().width() for x in xs)

    assert select(window, "GET /style.css")  # browser → HTTP server: on the left
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    assert shows_selected()
    assert select(window, "USER")  # FTP client → FTP server: the rightmost lane
    assert bar.value() > 0 and shows_selected()
    assert select(window, "GET /style.css")
    assert shows_selected()
