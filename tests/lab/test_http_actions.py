"""The request composer's and mini browser's actions (``act``), run as panels and
lessons run them: through ``Engine.client_act``, which publishes the state a panel shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.clients.browser import BrowserView
from lab.clients.http import ComposerView, Sent, encode_body, format_headers, parse_headers
from lab.engine import Engine
from lab.model import ClientChanged, ClientState
from tests.lab.helpers import run


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def test_headers_setting_round_trip_and_body_modes() -> None:
    pairs = [("Accept", "text/html"), ("X-Lab", "a: b")]
    assert parse_headers(format_headers(pairs)) == pairs
    assert parse_headers("no colon\n\n Name : v \n") == [("Name", "v")]
    assert encode_body("a=1\nb = x y", "form") == (b"a=1&b=x+y",
                                                   "application/x-www-form-urlencoded")
    with pytest.raises(ValueError, match="not valid JSON"):
        encode_body("{", "JSON")


def test_each_send_is_one_history_entry_and_the_view_is_published() -> None:
    async def main() -> None:
        engine = Engine()
        states: list[ClientState] = []
        engine.capture.subscribe(
            lambda e: states.append(e.state) if isinstance(e, ClientChanged) else None)
        server = await engine.add_server("http", port=0)
        node = await engine.add_client("http", settings={"server": server.address})
        url = f"http://{server.address}/api/notes"
        ok = await engine.client_act(node.id, "send", settings={
            "method": "POST", "url": url, "body": '{"title": "t", "body": "b"}',
            "mode": "JSON"})
        assert ok.ok and ok.values["status"] == 201
        bad = await engine.client_act(node.id, "send", settings={"body": '{"title": '})
        assert not bad.ok and "not valid JSON" in bad.shown  # nothing sent: no entry
        failed = await engine.client_act(node.id, "send", settings={"url": "ftp://x/",
                                                                         "body": ""})
        assert not failed.ok and "only http://" in failed.shown
        view = engine.client_state(node.id).view
        assert isinstance(view, ComposerView) and view.result is not None
        assert view.result.error == failed.shown
        assert [(s.method, s.url, s.status, s.ok) for s in view.history] == [
            ("POST", url, 201, True), ("POST", "ftp://x/", 0, False)]  # one a send
        first = view.history[0]
        assert (first.mode, first.body) == ("JSON", '{"title": "t", "body": "b"}')
        assert engine.client_state(node.id).error == failed.shown
        assert states[-1] == engine.client_state(node.id)  # what the panel gets
        await engine.client_act(node.id, "close")
        await engine.shutdown()

    run(main)


def test_a_lesson_step_fills_the_settings_and_the_history() -> None:
    async def main() -> None:
        engine = Engine()
        server = await engine.add_server("http", port=0)
        node = await engine.add_client("http", settings={"server": server.address})
        found = await engine.client_act(node.id, "get", ("/index.html",))
        missing = await engine.client_act(node.id, "get", ("/no-such-page.html",))
        assert (found.values["status"], missing.values["status"]) == (200, 404)
        state = engine.client_state(node.id)
        assert state.setting("method") == "GET"
        assert state.setting("url") == f"http://{server.address}/no-such-page.html"
        view = state.view
        assert isinstance(view, ComposerView) and view.result is not None
        assert view.result.status == 404
        assert [s.status for s in view.history] == [200, 404]
        assert isinstance(view.history[0], Sent) and view.history[0].url.endswith("/index.html")
        await engine.client_act(node.id, "close")
        await engine.shutdown()

    run(main)


def test_the_browser_opens_goes_back_and_forward_through_act() -> None:
    async def main() -> None:
        engine = Engine()
        server = await engine.add_server("http", port=0)
        node = await engine.add_client("browser", settings={"server": server.address})
        opened = await engine.client_act(node.id, "open", ("/index.html",))
        assert opened.ok and "4 requests" in opened.shown
        view = engine.client_state(node.id).view
        assert isinstance(view, BrowserView) and view.page is not None
        assert view.page.title == "Welcome to the Client-Server Lab"
        assert len(view.page.resources) == 3 and not view.can_back
        await engine.client_act(node.id, "open", ("/about.html",))
        back = await engine.client_act(node.id, "back")
        assert back.ok
        state = engine.client_state(node.id)
        assert state.setting("url") == f"http://{server.address}/index.html"
        assert isinstance(state.view, BrowserView)
        assert state.view.can_forward and not state.view.can_back
        nowhere = await engine.client_act(node.id, "back")
        assert not nowhere.ok and engine.client_state(node.id).error == "nowhere to go"
        again = await engine.client_act(node.id, "open")  # the url setting
        assert again.ok and engine.client_state(node.id).setting("url").endswith("/index.html")
        await engine.client_act(node.id, "close")
        await engine.shutdown()

    run(main)
