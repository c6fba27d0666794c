"""The HTTP panels through the window's own actions: the request composer and the
mini browser against a real aiohttp site outside the lab (so every request crosses
an outbound Wire and is captured), and the lab's own HTTP server with its live table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QApplication

from lab.clients.http import Timing
from lab.model import NodeState, Sender
from tests.ui.helpers import click, no_dialogs
from ui import theme
from ui.engine_thread import EngineThread
from ui.mainwindow import MainWindow
from ui.panels.http_body import format_timing, status_colour, status_meaning
from ui.panels.http_browser import HttpBrowserPanel
from ui.panels.http_composer import HttpComposerPanel
from ui.panels.http_request import encode_body
from ui.panels.http_server import HttpServerPanel

WAIT = 15000

PAGE = b"""<!doctype html><html><head><title>Outside</title>
<link rel="stylesheet" href="style.css"></head>
<body><h1>Hello from the outside</h1><img src="a.png"> <img src="/img/b.png">
<p><a href="two.html">second page</a></p></body></html>"""
PAGE_TWO = b"<html><body><p>Second page here</p><a href='/'>home</a></body></html>"
CSS = b"h1 { color: #aa0000; }"


def png(colour: str, size: int) -> bytes:
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")
    return bytes(data.data())


@pytest.fixture
def outside(lab: EngineThread, qapp: QApplication) -> Iterator[str]:
    """A real aiohttp site outside the lab (on the engine thread's loop): its base URL."""
    images = {"/a.png": png("red", 8), "/img/b.png": png("blue", 12)}

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"method": request.method, "body": (await request.text()),
                                  "type": request.content_type}, status=201)

    def fixed(body: bytes, content_type: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type=content_type)
        return handler

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/", fixed(PAGE, "text/html"))
    app.router.add_get("/two.html", fixed(PAGE_TWO, "text/html"))
    app.router.add_get("/style.css", fixed(CSS, "text/css"))
    for path, data in images.items():
        app.router.add_get(path, fixed(data, "image/png"))
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port: int = runner.addresses[0][1]
        return port

    port = lab.run(start)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        lab.run(runner.cleanup)


def add_client(window: MainWindow, qtbot, kind: str, cls: type):  # type: ignore[no-untyped-def]
    window.client_actions[kind].trigger()
    qtbot.waitUntil(lambda: any(isinstance(p, cls) for p in window.clients.panels()),
                    timeout=WAIT)
    return next(p for p in window.clients.panels() if isinstance(p, cls))


def raws(window: MainWindow, sender: Sender) -> list[bytes]:
    model = window.model
    return [model.message(r).raw for r in range(model.rowCount())
            if model.message(r).sender is sender]


def test_encode_body_modes() -> None:
    assert encode_body("", "JSON") == (None, "")
    assert encode_body('{"a": 1}', "JSON") == (b'{"a": 1}', "application/json")
    assert encode_body("a=1\n\nb = x y\n", "form") == (
        b"a=1&b=x+y", "application/x-www-form-urlencoded")
    assert encode_body("plain", "raw") == (b"plain", "")
    with pytest.raises(ValueError, match="not valid JSON"):
        encode_body('{"a": ', "JSON")


def test_timing_line_and_status_colours() -> None:
    timing = Timing(connect=0.4, first_byte=2.1, total=2.5)
    assert format_timing(timing) == "connect 0.4 ms · first byte 2.1 ms · total 2.5 ms"
    reused = Timing(connect=0.0, first_byte=1.0, total=1500.0, reused=True)
    assert format_timing(reused).endswith("total 1.50 s (reused connection)")
    statuses = (200, 301, 404, 503, 101)
    assert [status_meaning(s) for s in statuses] == ["good", "info", "warn", "bad", "faint"]
    assert [status_colour(s) for s in statuses] == [
        theme.colour(m) for m in ("good", "info", "warn", "bad", "faint")]


def test_composer_posts_json_shows_the_response_and_resends(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, outside: str) -> None:
    composer = add_client(window, qtbot, "http", HttpComposerPanel)
    composer.url_combo.setEditText(outside + "echo")
    composer.method_combo.setEditText("POST")
    composer.mode_combo.setCurrentText("JSON")
    composer.body_edit.setPlainText('{"a": 1}')
    click(qtbot, composer.send_button)

    qtbot.waitUntil(lambda: "201 Created" in composer.status_label.text(), timeout=WAIT)
    assert composer.status_label.property("tone") == "good"  # 2xx is green
    shown = composer.body_view.text()
    assert json.loads(shown) == {"method": "POST", "body": '{"a": 1}',
                                 "type": "application/json"}
    assert '\n  "a' not in shown and '\n  "method": "POST"' in shown  # indented
    assert composer.tabs.currentIndex() == 1
    assert "total" in composer.timing_label.text() and " ms" in composer.timing_label.text()
    assert composer.response_headers.rowCount() >= 2
    # the engine holds what was typed (a lesson's step would show the same way)
    assert (composer.state.setting("method"), composer.state.setting("mode"),
            composer.state.setting("body")) == ("POST", "JSON", '{"a": 1}')
    qtbot.waitUntil(lambda: any(r.startswith(b"POST /echo") for r in raws(window, Sender.CLIENT))
                    and any(r.startswith(b"HTTP/1.1 201") for r in raws(window, Sender.SERVER)),
                    timeout=WAIT)
    post = next(window.model.message(r) for r in range(window.model.rowCount())
                if window.model.message(r).raw.startswith(b"POST /echo"))
    # not a bare address, once the bridge has heard which client used it
    qtbot.waitUntil(lambda: window.name_of(post, Sender.CLIENT) == composer.info.name,
                    timeout=WAIT)

    rows = window.model.rowCount()
    composer.body_edit.setPlainText('{"a": ')
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: "not valid JSON" in composer.error_text, timeout=WAIT)
    assert composer.error_label.isVisible()
    qtbot.wait(300)
    assert window.model.rowCount() == rows and len(composer.history) == 1  # nothing sent

    composer.tabs.setCurrentIndex(2)
    item = composer.history_list.item(0)
    assert item.text().startswith("POST " + outside + "echo") and "201" in item.text()
    rect = composer.history_list.visualItemRect(item)
    qtbot.mouseClick(composer.history_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center())  # a double-click needs its press first
    qtbot.mouseDClick(composer.history_list.viewport(), Qt.MouseButton.LeftButton,
                      pos=rect.center())
    qtbot.waitUntil(lambda: len(composer.history) == 2, timeout=WAIT)
    assert composer.body_edit.toPlainText() == '{"a": 1}' and not composer.error_text
    qtbot.waitUntil(lambda: sum(r.startswith(b"POST /echo")
                                for r in raws(window, Sender.CLIENT)) == 2, timeout=WAIT)
    assert no_dialogs()


def test_composer_shows_a_network_error_inline(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    composer = add_client(window, qtbot, "http", HttpComposerPanel)
    composer.url_combo.setEditText("ftp://nowhere/")
    window.activateWindow()  # a shortcut only fires in the active window, with focus inside
    composer.url_combo.lineEdit().setFocus()
    qtbot.waitUntil(lambda: composer.url_combo.lineEdit().hasFocus(), timeout=WAIT)
    qtbot.keyClick(composer.url_combo.lineEdit(), Qt.Key.Key_Return,
                   Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "only http://" in composer.error_text, timeout=WAIT)
    assert "failed" in composer.status_label.text()
    assert composer.status_label.property("tone") == "bad"
    assert composer.error_label.property("tone") == "bad"
    assert composer.history_list.count() == 1
    assert composer.history_list.item(0).foreground().color() == theme.qcolour("bad")
    assert no_dialogs()


def test_browser_loads_a_page_with_its_css_and_images(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, outside: str) -> None:
    browser = add_client(window, qtbot, "browser", HttpBrowserPanel)
    assert not browser.back_button.isEnabled()
    browser.address.setText(outside)
    qtbot.keyClick(browser.address, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Hello from the outside" in browser.page_text(), timeout=WAIT)
    qtbot.waitUntil(lambda: "= 4 requests" in browser.requests_label.text(), timeout=WAIT)
    assert "1 page + 3 resources" in browser.requests_label.text()
    tip = browser.requests_label.toolTip()
    assert all(name in tip for name in ("style.css", "a.png", "img/b.png"))
    image = browser.view.loadResource(QTextDocument.ResourceType.ImageResource, QUrl("a.png"))
    assert isinstance(image, QImage) and image.width() == 8
    assert browser.view.loadResource(QTextDocument.ResourceType.ImageResource,
                                     QUrl("missing.png")) is None
    assert "#aa0000" in browser.view.document().defaultStyleSheet()
    targets = [b"GET " + t + b" HTTP/1.1" for t in (b"/", b"/style.css", b"/a.png",
                                                     b"/img/b.png")]
    qtbot.waitUntil(lambda: all(t in b"".join(raws(window, Sender.CLIENT)) for t in targets),
                    timeout=WAIT)  # the bridge hands captured rows over every 33 ms

    browser.view.anchorClicked.emit(QUrl("two.html"))
    qtbot.waitUntil(lambda: "Second page here" in browser.page_text(), timeout=WAIT)
    assert browser.address.text() == outside + "two.html"
    assert browser.back_button.isEnabled() and not browser.forward_button.isEnabled()
    assert "1 page + 0 resources = 1 request" in browser.requests_label.text()
    click(qtbot, browser.back_button)
    qtbot.waitUntil(lambda: "Hello from the outside" in browser.page_text(), timeout=WAIT)
    assert browser.forward_button.isEnabled() and browser.address.text() == outside
    assert browser.state.setting("url") == outside  # the engine's setting, shown
    assert not browser.error_text and no_dialogs()


def test_lab_http_server_shows_notes_live(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, qtmodeltester, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    window.server_actions["http"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(p, HttpServerPanel)
                                for p in window.servers.panels()), timeout=WAIT)
    server = next(p for p in window.servers.panels() if isinstance(p, HttpServerPanel))
    qtbot.waitUntil(lambda: server.info.state is NodeState.RUNNING, timeout=WAIT)
    qtbot.waitUntil(lambda: server.notes_model.rowCount() >= 1, timeout=WAIT)
    qtmodeltester.check(server.notes_model)
    before = server.notes_model.rowCount()

    composer = add_client(window, qtbot, "http", HttpComposerPanel)
    url = f"http://{server.info.address}/"
    qtbot.waitUntil(lambda: composer.url_combo.findText(url + "api/notes") >= 0, timeout=WAIT)
    composer.url_combo.setEditText(url + "api/notes")
    composer.method_combo.setEditText("POST")
    composer.mode_combo.setCurrentText("JSON")
    composer.body_edit.setPlainText('{"title": "From the test", "body": "hi"}')
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: "201" in composer.status_label.text(), timeout=WAIT)
    qtbot.waitUntil(lambda: "From the test" in server.notes_model.titles(), timeout=WAIT)
    assert server.notes_model.rowCount() == before + 1
    qtmodeltester.check(server.notes_model)
    # The inspector pairs them: selecting the 201 highlights its POST.
    model = window.inspector.model
    qtbot.waitUntil(lambda: any(model.message(r).summary == "201 Created"
                                for r in range(model.rowCount())), timeout=WAIT)
    rows = {model.message(r).summary: r for r in range(model.rowCount())}
    assert window.inspector.select_message(model.message(rows["201 Created"]).id)
    post = model.message(rows["POST /api/notes"])
    assert model.partner(model.message(rows["201 Created"]).id) == post.id
    tint = model.index(rows["POST /api/notes"], 0).data(Qt.ItemDataRole.BackgroundRole)
    assert tint is not None

    browser = add_client(window, qtbot, "browser", HttpBrowserPanel)
    assert browser.address.text() == url  # the first running HTTP server
    qtbot.keyClick(browser.address, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "requests" in browser.requests_label.text(), timeout=WAIT)
    assert "failed" not in browser.requests_label.text() and not browser.error_text


def test_choosing_a_folder_serves_it_on_the_same_port(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    site = tmp_path / "mysite"
    site.mkdir()
    (site / "index.html").write_text("<html><body><p>My own site</p></body></html>")
    monkeypatch.setattr("ui.panels.http_server.QFileDialog.getExistingDirectory",
                        lambda *args, **kwargs: str(site))
    window.server_actions["http"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(p, HttpServerPanel)
                                for p in window.servers.panels()), timeout=WAIT)
    server = next(p for p in window.servers.panels() if isinstance(p, HttpServerPanel))
    qtbot.waitUntil(lambda: server.info.state is NodeState.RUNNING, timeout=WAIT)
    address = server.info.address
    click(qtbot, server.choose_button)
    qtbot.waitUntil(lambda: "mysite" in server.site_label.text(), timeout=WAIT)
    qtbot.waitUntil(lambda: server.info.state is NodeState.RUNNING, timeout=WAIT)
    assert server.info.address == address
    browser = add_client(window, qtbot, "browser", HttpBrowserPanel)
    browser.address.setText(f"http://{address}/")
    qtbot.keyClick(browser.address, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "My own site" in browser.view.toPlainText(), timeout=WAIT)
    assert no_dialogs()


def test_export_menu_saves_the_http_exchanges_as_har(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, outside: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    composer = add_client(window, qtbot, "http", HttpComposerPanel)
    composer.url_combo.setEditText(outside + "echo")
    composer.method_combo.setEditText("PUT")
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: "201" in composer.status_label.text(), timeout=WAIT)
    target = tmp_path / "lesson.har"
    monkeypatch.setattr("ui.views.export.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(target), "HAR files (*.har)"))
    window.export_button.actions_by_format["har"].trigger()
    qtbot.waitUntil(lambda: "Wrote 1 HTTP exchange" in window.statusBar().currentMessage(),
                    timeout=WAIT)
    [entry] = json.loads(target.read_text(encoding="utf-8"))["log"]["entries"]
    assert entry["request"]["method"] == "PUT" and entry["response"]["status"] == 201
    assert entry["request"]["url"] == outside + "echo"  # the host the user typed

    monkeypatch.setattr("ui.views.export.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(tmp_path / "no" / "x.jsonl"), ""))
    window.export_button.actions_by_format["jsonl"].trigger()
    qtbot.waitUntil(lambda: "Export failed: cannot write" in window.statusBar().currentMessage(),
                    timeout=WAIT)
    assert no_dialogs()
