"""The inspector's Explain tab: a real 404 from the lab's HTTP server, explained in
plain words, and the empty state when nothing is selected."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lab.model import NodeState, Sender
from ui.mainwindow import MainWindow
from ui.panels.http_server import HttpServerPanel
from ui.views.explain import EMPTY_TEXT, explain_text, rfc_link

WAIT = 15000


def fetch(url: str) -> None:
    """GET ``url`` like any outside program would (a 404 is an answer, not a failure)."""
    try:
        urllib.request.urlopen(url, timeout=5).read()
    except urllib.error.HTTPError:
        pass


def test_selecting_a_404_explains_it_in_the_explain_tab(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    inspector = window.inspector
    tabs = inspector.details
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Fields", "Explain", "Raw"]
    tabs.setCurrentWidget(inspector.explain)
    assert inspector.explain.toPlainText() == ""
    assert inspector.explain.placeholderText() == EMPTY_TEXT

    window.server_actions["http"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(p, HttpServerPanel)
                                for p in window.servers.panels()), timeout=WAIT)
    server = next(p for p in window.servers.panels() if isinstance(p, HttpServerPanel))
    qtbot.waitUntil(lambda: server.info.state is NodeState.RUNNING, timeout=WAIT)
    getter = threading.Thread(target=fetch, args=(f"http://{server.info.address}/nowhere.html",))
    getter.start()
    model = window.model
    qtbot.waitUntil(lambda: any(model.message(r).summary == "404 Not Found"
                                for r in range(model.rowCount())), timeout=WAIT)
    getter.join(WAIT / 1000)

    reply = next(model.message(r) for r in range(model.rowCount())
                 if model.message(r).summary == "404 Not Found")
    assert inspector.select_message(reply.id)
    shown = inspector.explain.toPlainText().replace("\xa0", " ")
    assert "not found" in inspector.explain.meaning_text().lower()
    assert "/nowhere.html" in inspector.explain.meaning_text()
    assert "not found" in shown.lower() and "RFC 9110 §15.5.5" in shown
    assert "status = 404" in shown and "Content-Type" in shown  # a note per field
    html = inspector.explain.toHtml()
    assert "rfc-editor.org/rfc/rfc9110#section-15.5.5" in html

    request = next(model.message(r) for r in range(model.rowCount())
                   if model.message(r).sender is Sender.CLIENT)
    assert inspector.select_message(request.id)
    assert "asks the server to send it /nowhere.html" in inspector.explain.meaning_text()
    tip = explain_text(reply, request)
    assert tip.startswith("Not found: the server has nothing at /nowhere.html.")
    assert "<" not in tip and max(len(line) for line in tip.splitlines()) <= 72
    assert tip.endswith("(RFC 9110 §15.5.5)")
    rich = explain_text(reply, request, fields=1, html_text=True)
    assert rich.startswith("<qt><p><b>404 Not Found</b></p>") and "<b>status</b>: 404" in rich
    row = model.row_of(reply.id)
    assert row is not None and window.wire.tooltip(row).endswith(tip)  # the diagram's arrow

    inspector.table.clearSelection()
    assert inspector.explain.toPlainText() == "" and inspector.explain.meaning_text() == ""


def test_rfc_references_become_links() -> None:
    assert rfc_link("RFC 5321 §4.1.1.2") == (
        '<a href="https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.2">'
        "RFC&nbsp;5321&nbsp;§4.1.1.2</a>")
    assert rfc_link("RFC 862") == (
        '<a href="https://www.rfc-editor.org/rfc/rfc862">RFC&nbsp;862</a>')
    assert rfc_link("<own>") == "&lt;own&gt;"
