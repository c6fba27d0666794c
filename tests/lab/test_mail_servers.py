"""The SMTP and POP3 servers behind their Wires, on one mail folder, with real clients."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mailbox
import poplib
import smtplib
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from lab.engine import Engine
from lab.mail import MailboxNameError, MailEvent, MailStore, open_store
from lab.model import Sender
from lab.servers.pop3 import Pop3Backend
from lab.servers.smtp import SmtpBackend
from tests.lab.helpers import run

T = TypeVar("T")
MESSAGE = (b"From: Zed <zed@example.org>\r\nTo: ann@lab.test, bob@lab.test\r\n"
           b"Subject: Lunch?\r\n\r\nNoon at the usual place.\r\n.A line with a dot\r\n"
           b"Bye\r\n")


@dataclass
class MailLab:
    engine: Engine
    root: Path
    smtp: int
    pop3: int
    events: list[MailEvent] = field(default_factory=list)

    @property
    def store(self) -> MailStore:
        return open_store(self.root)

    def smtp_client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.smtp, timeout=5)

    def pop3_client(self) -> poplib.POP3:
        return poplib.POP3("127.0.0.1", self.pop3, timeout=5)

    def conversations(self, protocol_port: int) -> dict[str, dict[Sender, bytes]]:
        """Each connection to the Wire at ``protocol_port``: the bytes each side sent."""
        convs: dict[str, dict[Sender, bytes]] = {}
        for m in self.engine.capture.messages:
            if m.server.endswith(f":{protocol_port}"):
                sides = convs.setdefault(m.connection, {Sender.CLIENT: b"", Sender.SERVER: b""})
                sides[m.sender] += m.raw
        return convs


@asynccontextmanager
async def mail_lab(root: Path, **smtp_options: str) -> AsyncIterator[MailLab]:
    engine = Engine()
    try:
        smtp = await engine.add_server("smtp", port=0, options={"root": str(root),
                                                                 **smtp_options})
        pop3 = await engine.add_server("pop3", port=0, options={"root": str(root)})
        lab = MailLab(engine, root, int(smtp.address.rpartition(":")[2]),
                      int(pop3.address.rpartition(":")[2]))
        backend = engine.server_backend(smtp.id)
        assert isinstance(backend, SmtpBackend)
        stop = backend.watch(lab.events.append)
        yield lab
        stop()
    finally:
        await engine.shutdown()


def lab_run(tmp_path: Path, body: Callable[[MailLab], T], **options: str) -> T:
    """Run the blocking ``body`` (stdlib clients) against a running mail lab."""

    async def main() -> T:
        async with mail_lab(tmp_path, **options) as lab:
            result = await asyncio.to_thread(body, lab)
            await asyncio.sleep(0.05)  # let the Wires log the last replies
            return result

    return run(main)


def send(lab: MailLab, to: list[str], data: bytes = MESSAGE) -> None:
    with lab.smtp_client() as client:
        assert client.sendmail("zed@example.org", to, data) == {}


# ---- SMTP → Maildir → POP3 ----------------------------------------------------------

def test_smtp_delivers_one_copy_per_recipient_and_pop3_retrieves_it(tmp_path: Path) -> None:
    def body(lab: MailLab) -> None:
        send(lab, ["ann@lab.test", "bob@lab.test"])
        for name in ("ann", "bob"):  # real Maildirs any program can read
            box = mailbox.Maildir(tmp_path / name, create=False)
            (msg,) = list(box)
            assert msg["Subject"] == "Lunch?" and msg["Return-Path"] == "<zed@example.org>"
            assert f"for <{name}@lab.test>" in msg["Received"]
        assert [(e.mailbox, e.action) for e in lab.events] == [("ann", "delivered"),
                                                               ("bob", "delivered")]
        (summary,) = lab.store.list("ann")
        assert summary.sender == "Zed <zed@example.org>" and summary.subject == "Lunch?"
        assert summary.recipients == ("ann@lab.test", "bob@lab.test")

        pop = lab.pop3_client()
        assert pop.user("ann").startswith(b"+OK") and pop.pass_("lab").startswith(b"+OK")
        assert pop.stat() == (1, summary.size)
        assert pop.list()[1] == [f"1 {summary.size}".encode()]
        assert pop.uidl()[1] == [f"1 {summary.uid}".encode()]
        _, lines, octets = pop.retr(1)
        wire = b"\r\n".join(lines) + b"\r\n"
        assert wire.endswith(MESSAGE) and wire.startswith(b"Return-Path: <zed@example.org>")
        assert octets == summary.size == len(wire)  # poplib counts the unstuffed lines
        top = pop.top(1, 1)[1]
        assert top[-2:] == [b"", b"Noon at the usual place."] and b"Bye" not in top
        assert pop.dele(1).startswith(b"+OK")
        assert len(lab.store.list("ann")) == 1  # DELE only marks...
        assert pop.quit().startswith(b"+OK")
        assert lab.store.list("ann") == [] and len(lab.store.list("bob")) == 1  # ...QUIT removes
        assert lab.events[-1].action == "deleted" and lab.events[-1].mailbox == "ann"

    def body_then_lab(lab: MailLab) -> MailLab:
        body(lab)
        return lab

    lab = lab_run(tmp_path, body_then_lab)
    (smtp,) = lab.conversations(lab.smtp).values()
    assert smtp[Sender.SERVER].startswith(b"220 lab.test ESMTP")
    assert smtp[Sender.CLIENT].lower().startswith(b"ehlo ")
    assert b"\r\n..A line with a dot\r\n" in smtp[Sender.CLIENT]  # smtplib dot-stuffs
    assert b"250 2.0.0 OK: delivered to ann@lab.test, bob@lab.test" in smtp[Sender.SERVER]
    (pop3,) = lab.conversations(lab.pop3).values()
    assert pop3[Sender.SERVER].startswith(b"+OK Client-Server Lab POP3 server ready <")
    assert pop3[Sender.CLIENT].startswith(b"USER ann\r\nPASS lab\r\nSTAT\r\nLIST\r\nUIDL\r\n")
    assert b"\r\n..A line with a dot\r\n" in pop3[Sender.SERVER]  # dot-stuffed by the server
    assert pop3[Sender.SERVER].endswith(b"left)\r\n")


def test_pop3_rset_undoes_and_a_dropped_session_deletes_nothing(tmp_path: Path) -> None:
    def body(lab: MailLab) -> None:
        send(lab, ["ann@lab.test"])
        send(lab, ["ann@lab.test"], MESSAGE.replace(b"Lunch?", b"Second"))
        assert [s.subject for s in lab.store.list("ann")] == ["Lunch?", "Second"]
        pop = lab.pop3_client()
        pop.user("ann")
        pop.pass_("lab")
        pop.dele(1)
        assert pop.stat()[0] == 1
        with pytest.raises(poplib.error_proto, match=r"-ERR message 1 already deleted"):
            pop.retr(1)
        assert pop.rset() == b"+OK maildrop has 2 messages (%d octets)" % sum(
            s.size for s in lab.store.list("ann"))
        assert pop.stat()[0] == 2
        pop.dele(2)
        pop.close()  # no QUIT: the UPDATE state never comes
        pop = lab.pop3_client()
        pop.user("ann")
        assert pop.pass_("lab") == b"+OK ann's maildrop has 2 messages (%d octets)" % sum(
            s.size for s in lab.store.list("ann"))
        pop.dele(2)
        pop.quit()
        assert [s.subject for s in lab.store.list("ann")] == ["Lunch?"]

    lab_run(tmp_path, body)


def test_apop_works_and_a_wrong_password_is_refused(tmp_path: Path) -> None:
    def body(lab: MailLab) -> None:
        send(lab, ["ann@lab.test"])
        pop = lab.pop3_client()
        pop.user("ann")
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] wrong password"):
            pop.pass_("wrong")
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] wrong digest"):
            pop.apop("ann", "not-lab")
        assert pop.apop("ann", "lab").startswith(b"+OK ann's maildrop has 1 message ")
        assert pop.stat()[0] == 1
        other = lab.pop3_client()
        with pytest.raises(poplib.error_proto, match="-ERR .*maildrop already locked"):
            other.apop("ann", "lab")
        assert other.apop("bob", "lab").startswith(b"+OK bob's maildrop has 0 messages")
        other.quit()
        pop.quit()
        again = lab.pop3_client()  # the lock went with QUIT
        assert again.apop("ann", "lab").startswith(b"+OK")
        again.quit()

    lab_run(tmp_path, body)


# ---- what the SMTP server refuses -----------------------------------------------------

def test_relay_refused_at_rcpt_and_oversize_mail_refused_then_next_works(
        tmp_path: Path) -> None:
    def body(lab: MailLab) -> None:
        with lab.smtp_client() as client:
            client.ehlo("student.lab.test")
            client.mail("ann@lab.test")
            code, text = client.rcpt("friend@example.com")
            assert (code, text) == (550, b"5.7.1 relaying denied: this lab server only "
                                         b"accepts mail for @lab.test")
            client.rset()
            big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2100  # about 2 MB
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # SIZE= at MAIL
                client.sendmail("zed@example.org", ["ann@lab.test"], big)
            assert refused.value.smtp_code == 552
            client.mail("zed@example.org")  # no SIZE=: refused after the data instead
            client.rcpt("ann@lab.test")
            assert client.data(big)[0] == 552
            assert client.sendmail("zed@example.org", ["ann@lab.test"], MESSAGE) == {}
            code, text = client.verify("ann@lab.test")
            assert code == 252 and b"VRFY is turned off" in text
        assert [s.subject for s in lab.store.list("ann")] == ["Lunch?"]
        assert lab.store.mailboxes() == ["ann"]

    lab_run(tmp_path, body)


def test_garbage_gets_500_and_err_and_the_next_client_is_served(tmp_path: Path) -> None:
    def body(lab: MailLab) -> None:
        with socket.create_connection(("127.0.0.1", lab.smtp), timeout=5) as raw, \
                raw.makefile("rb") as stream:
            assert stream.readline().startswith(b"220 ")
            raw.sendall(b"XYZZY plugh\r\n\x00\xff\r\nMAIL FROM:<a@b>\r\n")
            assert stream.readline() == b'500 Error: command "XYZZY" not recognized\r\n'
            assert stream.readline().startswith(b"500 ")
            assert stream.readline().startswith(b"503 ")  # HELO first
        send(lab, ["ann@lab.test"])

        with socket.create_connection(("127.0.0.1", lab.pop3), timeout=5) as raw, \
                raw.makefile("rb") as stream:
            assert stream.readline().startswith(b"+OK")
            answers = [b"XYZZY", b"STAT", b"PASS lab", b"USER ../etc", b"USER ann",
                       b"PASS lab", b"RETR", b"RETR x", b"RETR 9", b"TOP 1 -1",
                       b"USER bob", b"A" * 300, b"B" * 100_000, b"NOOP"]
            raw.sendall(b"".join(line + b"\r\n" for line in answers))  # pipelined
            replies = [stream.readline() for _ in answers]
        assert [r.split(b" ")[0] for r in replies] == [
            b"-ERR", b"-ERR", b"-ERR", b"-ERR", b"+OK", b"+OK", b"-ERR", b"-ERR", b"-ERR",
            b"-ERR", b"-ERR", b"-ERR", b"-ERR", b"+OK\r\n"]
        assert replies[0].startswith(b'-ERR unknown command "XYZZY"')
        assert b"log in first" in replies[1] and b"send USER first" in replies[2]
        assert b"usage: RETR" in replies[6] and b"no such message" in replies[8]
        assert b"already logged in" in replies[10]
        assert b"too long" in replies[11] and b"too long" in replies[12]
        pop = lab.pop3_client()  # the dropped session leaves the maildrop unlocked
        for _ in range(50):  # once the server has seen the socket close
            pop.user("ann")
            try:
                assert pop.pass_("lab").startswith(b"+OK ann's maildrop has 1 message ")
                break
            except poplib.error_proto as exc:
                assert b"maildrop already locked" in exc.args[0]
                time.sleep(0.02)
        assert pop.stat()[0] == 1
        pop.quit()

    lab_run(tmp_path, body)


def test_auth_on_requires_login_before_mail(tmp_path: Path) -> None:
    def body(lab: MailLab) -> None:
        with lab.smtp_client() as client:
            client.ehlo()
            assert client.has_extn("auth") and "PLAIN" in client.esmtp_features["auth"]
            code, text = client.mail("zed@example.org")
            assert code == 530 and b"AUTH" in text
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("student", "wrong")
            client.login("student", "secret")
            assert client.sendmail("zed@example.org", ["ann@lab.test"], MESSAGE) == {}
        with lab.smtp_client() as client:
            client.ehlo()
            client.user, client.password = "student", "secret"
            assert client.auth("LOGIN", client.auth_login)[0] == 235

    lab_run(tmp_path, body, auth="on", password="secret")


# ---- closing -------------------------------------------------------------------------

def test_closing_cuts_sessions_frees_ports_and_leaves_no_tasks(tmp_path: Path) -> None:
    async def main() -> None:
        async with mail_lab(tmp_path) as lab:
            backends = [lab.engine.server_backend(n.id) for n in lab.engine.nodes()]
            hidden = [b.address[1] for b in backends if b is not None]
            smtp_r, smtp_w = await asyncio.open_connection("127.0.0.1", lab.smtp)
            pop_r, pop_w = await asyncio.open_connection("127.0.0.1", lab.pop3)
            assert (await smtp_r.readline()).startswith(b"220")
            assert (await pop_r.readline()).startswith(b"+OK")
            pop_w.write(b"USER ann\r\nPASS lab\r\n")
            await pop_r.readline()
            assert (await pop_r.readline()).startswith(b"+OK")
            smtp_w.write(b"EHLO me\r\nMAIL FROM:<a@b>\r\nRCPT TO:<ann@lab.test>\r\nDATA\r\n")
            await asyncio.sleep(0.1)
            for backend in backends:
                assert backend is not None
                await backend.close()
            for reader in (smtp_r, pop_r):  # the Wire passes the cut on to the client
                with contextlib.suppress(ConnectionResetError):
                    await asyncio.wait_for(reader.read(), 2)  # to EOF, promptly
                assert reader.at_eof()
            assert lab.store.list("ann") == []
            for writer in (smtp_w, pop_w):
                writer.close()
        for port in hidden:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", port))
        assert open_store(tmp_path).lock("ann", object())  # the session's lock is gone
        await asyncio.sleep(0)
        names = {getattr(t.get_coro(), "__name__", "?") for t in asyncio.all_tasks()}
        assert names == {"bounded", "main"}  # the test's own: no server task is left

    run(main)


# ---- the store -----------------------------------------------------------------------

def test_store_names_order_watchers_and_sharing(tmp_path: Path) -> None:
    store = MailStore(tmp_path)
    for bad in ("../x", ".hidden", "a/b", "", "x" * 65, "a..b"):
        with pytest.raises(MailboxNameError):
            store.deliver(bad, b"Subject: no\n\nno\n")
    seen: list[str] = []

    def broken(event: MailEvent) -> None:
        raise RuntimeError("a panel's bug")

    store.watch(broken)
    stop = store.watch(lambda e: seen.append(f"{e.action} {e.summary.subject}"))
    keys = [store.deliver("ann", f"Subject: m{i}\r\n\r\nbody\r\n".encode()) for i in range(5)]
    assert [s.key for s in store.list("ann")] == keys
    assert store.read("ann", keys[0]) == b"Subject: m0\r\n\r\nbody\r\n"
    assert (tmp_path / "ann" / "new" / keys[0]).read_bytes() == b"Subject: m0\n\nbody\n"
    assert store.delete("ann", keys[0]) and not store.delete("ann", keys[0])
    stop()
    store.deliver("bob", b"Subject: unseen\r\n\r\n")
    assert seen == [*(f"delivered m{i}" for i in range(5)), "deleted m0"]
    assert store.mailboxes() == ["ann", "bob"] and store.list("carol") == []
    assert open_store(tmp_path) is open_store(tmp_path / "." )
    digest = hashlib.md5(keys[1].encode(), usedforsecurity=False).hexdigest()
    assert store.list("ann")[0].uid == digest


def test_pop3_idle_timeout_closes_the_session(tmp_path: Path) -> None:
    async def main() -> None:
        backend = Pop3Backend(MailStore(tmp_path), idle_timeout=0.2)
        await backend.start()
        try:
            reader, writer = await asyncio.open_connection(*backend.address)
            await reader.readline()
            writer.write(b"USER ann\r\nPASS lab\r\n")
            reply = await asyncio.wait_for(reader.read(), 3)
            assert reply.endswith(b"-ERR idle for 0.2 seconds: closing the connection "
                                  b"(nothing was deleted)\r\n")
            writer.close()
        finally:
            await backend.close()

    run(main)
