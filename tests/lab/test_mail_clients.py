"""The mail composer and the mailbox reader against the lab's SMTP and POP3 servers:
one mail goes in with SMTP and comes out with POP3, both conversations captured."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.clients.pop3 import MailReader, Pop3Error
from lab.clients.smtp import MailSender, split_recipients
from lab.engine import Engine
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
