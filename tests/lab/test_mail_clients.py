"""The mail composer and the mailbox reader against the lab's SMTP and POP3 servers:
one mail goes in with SMTP and comes out with POP3, both conversations captured."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.clients.pop3 import MailboxView, MailReader, Pop3Error
from lab.clients.smtp import MailSender, SendResult, split_recipients
from lab.engine import Engine
from lab.scenario import load
from lab.scenario_run import Runner
from tests.lab.helpers import run


def test_a_mail_goes_in_with_smtp_and_out_with_pop3(tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        options = {"root": str(tmp_path / "mail")}
        smtp = await engine.add_server("smtp", port=0, options=options)
        pop3 = await engine.add_server("pop3", port=0, options=options)
        sender = engine.client_object((await engine.add_client("smtp")).id)
        reader = engine.client_object((await engine.add_client("pop3")).id)
        assert isinstance(sender, MailSender) and isinstance(reader, MailReader)

        sent = await sender.send(smtp.address, "you@lab.test",
                                 split_recipients("ann@lab.test; bob@lab.test"),
                                 "Lunch?", "See you at noon.\n.\nA line with a dot.")
        assert sent.ok, sent.error
        assert sent.reply.startswith("250")
        listing = await reader.open(pop3.address, "ann", "lab")
        assert [(m.number, m.subject, m.sender) for m in listing] == [
            (1, "Lunch?", "you@lab.test")]
        body = await reader.read(1)
        assert b"See you at noon.\r\n.\r\nA line with a dot." in body  # dot-unstuffed
        await reader.delete(1)
        await reader.close()  # QUIT: the deletion happens now
        assert await reader.open(pop3.address, "ann", "lab") == []  # DELE took effect
        await reader.close()
        assert [m.subject for m in await reader.open(pop3.address, "bob", "lab")] == ["Lunch?"]
        await reader.close()

        protocols = {m.protocol for m in engine.capture.messages}
        assert protocols == {"smtp", "pop3"}
        client_lines = [m.raw for m in engine.capture.messages if m.sender.value == "client"]
        assert any(r.startswith(b"MAIL FROM:<you@lab.test>") for r in client_lines)
        assert any(r.startswith(b"RETR 1") for r in client_lines)
        await engine.shutdown()

    run(main)


def test_refusals_and_bad_logins_are_sentences(tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        options = {"root": str(tmp_path / "mail")}
        smtp = await engine.add_server("smtp", port=0, options=options)
        pop3 = await engine.add_server("pop3", port=0, options=options)
        sender = engine.client_object((await engine.add_client("smtp")).id)
        reader = engine.client_object((await engine.add_client("pop3")).id)
        assert isinstance(sender, MailSender) and isinstance(reader, MailReader)

        out = await sender.send(smtp.address, "you@lab.test", ["eve@elsewhere.example"],
                                "Hi", "Relay me")
        assert not out.ok and out.refused and out.refused[0][1].startswith("550")
        mixed = await sender.send(smtp.address, "you@lab.test",
                                  ["ann@lab.test", "eve@elsewhere.example"], "Hi", "x")
        assert mixed.ok and [r for r, _ in mixed.refused] == ["eve@elsewhere.example"]
        assert (await sender.send(smtp.address, "you@lab.test", [], "Hi", "x")).error
        with pytest.raises(Pop3Error, match="(?i)password|auth|invalid"):
            await reader.open(pop3.address, "ann", "wrong")
        assert not reader.is_open
        with pytest.raises(Pop3Error, match="127.0.0.1:1: .*is a POP3 server running there"):
            await reader.open("127.0.0.1:1", "ann", "lab")
        nobody = await sender.send("127.0.0.1:1", "you@lab.test", ["ann@lab.test"], "Hi", "x")
        assert "127.0.0.1:1" in nobody.error and "SMTP server" in nobody.error
        await engine.shutdown()

    run(main)


def client_lines(engine: Engine, start: bytes) -> list[bytes]:
    """The raw client commands captured so far that start with ``start``."""
    return [m.raw for m in engine.capture.messages
            if m.sender.value == "client" and m.raw.startswith(start)]


def test_lesson_4_leaves_its_mail_in_the_readers_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lesson 4's steps, run as the lesson runner runs them (engine.client_act): Ann's
    composer holds the lesson's settings and a SendResult; Bob's reader lists the
    message (with one LIST) and holds it after ``retr 1``."""
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))

    async def main() -> None:
        engine = Engine()
        runner = Runner(load("04-mail"), engine)
        await runner.setup()
        results = [await runner.step(n) for n in range(len(runner.scenario.steps))]
        assert all(r.passed for r in results), [(r.outcome.shown, r.checks) for r in results]
        ann = engine.client_state(runner.client_ids["Ann's mail program"])
        assert (ann.setting("from"), ann.setting("to"), ann.setting("subject")) == (
            "ann@lab.test", "bob@lab.test", "Lesson 4")
        assert isinstance(ann.view, SendResult) and ann.view.ok and ann.view.sent == 1
        bob = engine.client_state(runner.client_ids["Bob's mail program"])
        assert bob.setting("user") == "bob" and not bob.busy and not bob.error
        view = bob.view
        assert isinstance(view, MailboxView) and view.is_open and view.mailbox == "bob"
        assert [(r.number, r.subject, r.sender) for r in view.rows] == [
            (1, "Lesson 4", "ann@lab.test")]
        assert view.number == 1 and b"Hello Bob, this travelled by SMTP." in view.message
        assert len(client_lines(engine, b"LIST")) == 1  # opening lists; list did not again
        assert len(client_lines(engine, b"TOP 1 0")) == 1
        assert len(client_lines(engine, b"UIDL")) == 1
        await runner.teardown()
        await engine.shutdown()

    run(main)


def test_reader_verbs_change_its_view(tmp_path: Path) -> None:
    """open, list, retr, dele and close through client_act, as the panel sends them:
    the view follows; a bad number or verb changes nothing and says why."""
    async def main() -> None:
        engine = Engine()
        options = {"root": str(tmp_path / "mail")}
        smtp = await engine.add_server("smtp", port=0, options=options)
        pop3 = await engine.add_server("pop3", port=0, options=options)
        ann = await engine.add_client("smtp", settings={"server": smtp.address})
        bob = await engine.add_client("pop3", settings={"server": pop3.address, "user": "bob"})
        for subject in ("One", "Two"):
            assert (await engine.client_act(ann.id, "send", settings={"subject": subject})).ok
        assert engine.client_state(ann.id).view.sent == 2
        assert engine.client_state(bob.id).view is None

        opened = await engine.client_act(bob.id, "open")
        assert opened.ok and "2 message(s)" in opened.shown
        view = engine.client_state(bob.id).view
        assert [r.subject for r in view.rows] == ["One", "Two"] and view.mailbox == "bob"
        assert (await engine.client_act(bob.id, "retr", ["2"])).ok
        assert engine.client_state(bob.id).view.number == 2
        assert (await engine.client_act(bob.id, "dele", ["1"])).ok
        view = engine.client_state(bob.id).view
        assert view.deleted == {1} and view.number == 2 and b"Subject: Two" in view.message
        bad = await engine.client_act(bob.id, "retr", ["x"])
        assert not bad.ok and engine.client_state(bob.id).view == view
        assert bad.shown == "retr needs a message number, as in 'retr 1'"
        assert not (await engine.client_act(bob.id, "dance")).ok
        assert not (await engine.client_act(bob.id, "retr", ["1"])).ok  # marked deleted
        assert len(client_lines(engine, b"LIST")) == 1
        listed = await engine.client_act(bob.id, "list")  # the deleted one is not listed
        assert listed.ok and len(client_lines(engine, b"LIST")) == 2
        view = engine.client_state(bob.id).view
        assert [r.subject for r in view.rows] == ["Two"] and not view.deleted
        assert view.number == 0 and view.message == b""
        closed = await engine.client_act(bob.id, "close")
        assert closed.ok and engine.client_state(bob.id).view == MailboxView()
        wrong = await engine.client_act(bob.id, "open", settings={"password": "wrong"})
        assert not wrong.ok and engine.client_state(bob.id).error == wrong.shown
        assert engine.client_state(bob.id).view == MailboxView()
        await engine.shutdown()

    run(main)


def test_closing_the_reader_while_a_command_is_held_closes_without_quit(
        tmp_path: Path) -> None:
    """Close while a RETR waits at a stepping Wire: the socket closes at once (no
    second read on the same stream), the reader says nothing was deleted."""
    import asyncio

    async def main() -> None:
        engine = Engine()
        pop3 = await engine.add_server("pop3", port=0,
                                       options={"root": str(tmp_path / "mail")})
        bob = await engine.add_client("pop3", settings={"server": pop3.address, "user": "bob"})
        assert (await engine.client_act(bob.id, "open")).ok
        engine.wire_board.set_step(pop3.id, True)
        listing = asyncio.ensure_future(engine.client_act(bob.id, "list"))
        while not engine.wire_board.held(None):
            await asyncio.sleep(0.01)
        closed = await asyncio.wait_for(engine.client_act(bob.id, "close"), 10)
        assert closed.ok and "without QUIT" in closed.shown
        assert not engine.client_state(bob.id).view.is_open
        engine.wire_board.forward_all(None)
        outcome = await asyncio.wait_for(listing, 10)
        assert not outcome.ok
        await engine.shutdown()

    run(main)
