"""The load panel through the window: 10 clients for 2 s against a lab HTTP server
fill the live plot and the summary names the requests/s."""

from __future__ import annotations

from tests.ui.helpers import add_panel, no_dialogs
from ui.mainwindow import MainWindow
from ui.panels.http_server import HttpServerPanel
from ui.panels.load import LoadPanel

WAIT = 15000


def test_ten_clients_for_two_seconds_plot_and_summarise(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    server = add_panel(window, qtbot, "server", "http", HttpServerPanel)
    panel = add_panel(window, qtbot, "client", "load", LoadPanel)
    qtbot.waitUntil(lambda: panel.target() == (server.info.address, "http"), timeout=WAIT)
    panel.clients_spin.setValue(10)
    panel.seconds_spin.setValue(2)
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.stop_button.isEnabled(), timeout=WAIT)
    qtbot.waitUntil(lambda: panel.points() >= 1, timeout=WAIT)  # live, before the end
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=WAIT)
    summary = panel.summary
    assert summary is not None and summary.requests > 0 and summary.errors == 0
    assert panel.points() >= 2
    assert "requests/s" in panel.summary_label.text()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert not panel.error_text and no_dialogs()


def test_stop_ends_a_run_early(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    add_panel(window, qtbot, "server", "http", HttpServerPanel)
    panel = add_panel(window, qtbot, "client", "load", LoadPanel)
    qtbot.waitUntil(lambda: bool(panel.target()[0]), timeout=WAIT)
    panel.clients_spin.setValue(3)
    panel.seconds_spin.setValue(60)
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.stop_button.isEnabled(), timeout=WAIT)
    panel.stop_button.click()
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=WAIT)
    assert panel.summary is not None and panel.summary.seconds < 10
