"""Servers' live data as ServerState events (lab/servers/live.py): what a lesson's
steps do on the servers shows in the states the engine publishes, and server
commands (Engine.server_do) change the data and say why when they cannot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.engine import Engine
from lab.mail import MailView
from lab.model import Event, ServerChanged, ServerState
from lab.scenario import lessons_dir, load
from lab.scenario_run import Runner
from lab.servers.dns_live import ZoneView
from lab.servers.ftp_live import FtpServerView
from lab.servers.http_live import NotesView
from lab.servers.ws_live import RoomView
from tests.lab.helpers import run

WAIT = 10.0


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


class States:
    """The latest ServerState of each server node, as the engine publishes them."""

    def __init__(self, engine: Engine) -> None:
        self.latest: dict[str, ServerState] = {}
        self.count = 0
        engine.capture.subscribe(self._seen)

    def _seen(self, event: Event) -> None:
        if isinstance(event, ServerChanged):
            self.latest[event.state.node] = event.state
            self.count += 1

    async def until(self, node: str, holds: Callable[[object], bool]) -> object:
        """The view of ``node`` once ``holds(view)`` (waits up to WAIT seconds)."""
        async def wait() -> object:
            while True:
                state = self.latest.get(node)
                if state is not None and holds(state.view):
                    return state.view
                await asyncio.sleep(0.02)
        return await asyncio.wait_for(wait(), WAIT)


def lesson(number: int) -> Path:
    return next(lessons_dir().glob(f"{number:02d}-*.toml"))


def test_lesson_4_mail_shows_in_both_mail_servers_states() -> None:
    async def main() -> None:
        engine = Engine()
        states = States(engine)
        runner = Runner(load(lesson(4)), engine)
        try:
            await runner.setup()
            smtp, pop3 = runner.server_ids.values()
            for node in (smtp, pop3):
                empty = await states.until(node, lambda v: isinstance(v, MailView))
                assert isinstance(empty, MailView) and empty.messages == ()
            assert (await runner.step(0)).passed
            for node in (smtp, pop3):
                view = await states.until(node, lambda v: isinstance(v, MailView)
                                          and len(v.messages) == 1)
                assert isinstance(view, MailView)
                (mail,) = view.messages
                assert (mail.mailbox, mail.subject) == ("bob", "Lesson 4")
            pop3_view = states.latest[pop3].view
            assert pop3_view.password == "lab" and "mail" in pop3_view.root
            assert states.latest[smtp].view.domain == "lab.test"
            read = await engine.server_do(smtp, "read", mail.mailbox, mail.key)
            assert read.ok and b"Hello Bob, this travelled by SMTP." in read.values["raw"]
            gone = await engine.server_do(pop3, "read", "bob", "no-such-key")
            assert not gone.ok and "gone" in gone.shown
            await engine.stop_server(smtp)
            assert states.latest[smtp].view is None  # stopped: no live data
            refused = await engine.server_do(smtp, "read", mail.mailbox, mail.key)
            assert not refused.ok and "stopped" in refused.shown
        finally:
            await runner.teardown()
            await engine.shutdown()

    run(main)


def test_lesson_7_chat_room_and_lesson_8_notes() -> None:
    async def main() -> None:
        engine = Engine()
        states = States(engine)
        chat = Runner(load(lesson(7)), engine)
        api = Runner(load(lesson(8)), engine)
        try:
            await chat.setup()
            await api.setup()
            (room,) = chat.server_ids.values()
            (notes,) = api.server_ids.values()
            for index in range(len(chat.scenario.steps)):
                assert (await chat.step(index)).passed
            view = await states.until(room, lambda v: isinstance(v, RoomView)
                                      and len(v.members) == 2)
            assert isinstance(view, RoomView) and view.messages == 3
            assert (await api.step(0)).passed  # POST /api/notes
            view = await states.until(notes, lambda v: isinstance(v, NotesView) and any(
                n.title == "Lesson 8" for n in v.notes))
            assert isinstance(view, NotesView) and view.root
            assert (await api.step(1)).passed and (await api.step(2)).passed
            assert (await api.step(3)).passed  # DELETE
            await states.until(notes, lambda v: isinstance(v, NotesView) and not any(
                n.title == "Lesson 8" for n in v.notes))
        finally:
            await chat.teardown()
            await api.teardown()
            await engine.shutdown()

    run(main)


def test_dns_zone_edits_and_a_burst_of_changes_is_coalesced() -> None:
    async def main() -> None:
        engine = Engine()
        states = States(engine)
        try:
            dns = (await engine.add_server("dns", port=0)).id
            view = await states.until(dns, lambda v: isinstance(v, ZoneView))
            assert isinstance(view, ZoneView) and view.origin == "lab.test"
            assert view.records[0].type == "SOA"
            before = states.count
            for number in range(20):
                added = await engine.server_do(dns, "add", f"h{number}", "A", "127.0.0.9")
                assert added.ok, added.shown
            view = await states.until(dns, lambda v: isinstance(v, ZoneView) and
                                      "h19.lab.test" in [r.name for r in v.records])
            assert states.count - before < 20  # a burst is one state, or a few
            bad = await engine.server_do(dns, "add", "shop", "A", "300.1.2.3")
            assert not bad.ok and "not a valid A value" in bad.shown
            removed = await engine.server_do(dns, "remove", "h0.lab.test", "A", "127.0.0.9")
            assert removed.ok, removed.shown
            await states.until(dns, lambda v: isinstance(v, ZoneView) and
                               "h0.lab.test" not in [r.name for r in v.records])
            odd = await engine.server_do(dns, "frobnicate")
            assert not odd.ok and "frobnicate" in odd.shown
            ftp = (await engine.add_server("ftp", port=0, options={"user": "ann"})).id
            shown = await states.until(ftp, lambda v: isinstance(v, FtpServerView))
            assert isinstance(shown, FtpServerView) and shown.user == "ann"
            echo = (await engine.add_server("tcp-echo", port=0)).id
            assert echo not in states.latest  # no live data to show
            none = await engine.server_do(echo, "read")
            assert not none.ok
        finally:
            await engine.shutdown()

    run(main)


def test_every_kind_module_describes_its_live_data() -> None:
    import importlib

    from lab.servers import server_kinds

    modules = {spec.kind: spec.module for spec in server_kinds().values() if spec.module}
    assert set(modules) == {"http", "smtp", "pop3", "ftp", "ws", "dns"}
    for module in modules.values():
        assert callable(importlib.import_module(module).view)


def test_an_smtp_servers_state_says_whether_it_requires_auth(tmp_path: Path) -> None:
    """The SMTP server panel's AUTH box shows what the server does (a lesson or
    ``cslab serve smtp --auth`` may have turned it on); POP3's says nothing of it."""
    async def main() -> None:
        engine = Engine()
        states = States(engine)
        seen: dict[str, MailView] = {}
        for name, kind, options in (("on", "smtp", {"auth": "on"}), ("off", "smtp", {}),
                                    ("pop", "pop3", {})):
            info = await engine.add_server(kind, port=0, options={
                "folder": str(tmp_path / "mail"), **options})
            view = await states.until(info.id, lambda v: isinstance(v, MailView))
            assert isinstance(view, MailView)
            seen[name] = view
        await engine.shutdown()
        assert [seen[n].auth for n in ("on", "off", "pop")] == [True, False, None]

    run(main)
