"""The mail composer's Send button stays in reach: it shows whenever the panel's top
does, in a 1280×720 window (lesson 4) and in a column shorter than the
panel, and a click on it sends."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QWidget

from tests.ui.helpers import WAIT, add_panel, click
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.panels.mail_composer import MailComposerPanel
from ui.views.column import PanelColumn


def in_view(column: PanelColumn, widget: QWidget) -> bool:
    """Whether all of ``widget`` shows inside the column's scrolled viewport."""
    viewport = column.scroll_area.viewport()
    rect = QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size())
    return widget.isVisible() and viewport.rect().contains(rect)


def test_send_shows_with_the_panels_top_in_lesson_4_at_720p(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    """(Presentation mode at 1280×720 is walked in tests/ui/test_classroom.py.)"""
    window.resize(1280, 720)
    task = spawn(window.lessons.open("04-mail"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True, window.lessons.text.text()
    qtbot.waitUntil(lambda: any(isinstance(p, MailComposerPanel)
                                for p in window.clients.panels()), timeout=WAIT)
    panel = next(p for p in window.clients.panels() if isinstance(p, MailComposerPanel))
    qtbot.waitUntil(lambda: panel.state is not None, timeout=WAIT)
    window.clients.scroll_to(panel)
    qtbot.waitUntil(lambda: in_view(window.clients, panel.send_button), timeout=WAIT)
    click(qtbot, panel.send_button)
    qtbot.waitUntil(lambda: "250" in panel.result_text(), timeout=WAIT)
    assert "delivered to bob@lab.test" in panel.result_text()


def test_send_shows_in_a_column_shorter_than_the_panel(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    window.resize(1280, 720)
    panel = add_panel(window, qtbot, "client", "smtp", MailComposerPanel)
    column = window.clients
    column.scroll_area.setMaximumHeight(panel.sizeHint().height() * 2 // 3)
    qtbot.waitUntil(lambda: column.scroll_area.viewport().height() < panel.height(),
                    timeout=WAIT)
    column.scroll_to(panel)
    qtbot.waitUntil(lambda: in_view(column, panel.send_button), timeout=WAIT)
    assert not in_view(column, panel.result_label)  # the form goes on below: it scrolls
