"""Issue 18, case 2 without namespaces: the SMTP server's caps (recipients per
message, new mailboxes per client address, the mail folder's size), each answered
with RFC 5321's code and counted in the server's refusals, and delivery in a worker
thread while the loop answers other connections."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from pathlib import Path

import pytest

from lab.engine import Engine
from lab.explain import explain
from lab.mail import MailEvent, MailStore, open_store
from lab.model import Sender
from lab.servers import mail_live
from lab.servers.mail_limits import (
    FOLDER_FULL,
    TOO_MANY_MAILBOXES,
    TOO_MANY_RECIPIENTS,
    Caps,
    folder_bytes,
)
from lab.servers.smtp import SmtpBackend, listing, start_smtp
from tests.lab.helpers import run

MESSAGE = b"From: zed@example.org\r\nSubject: hello\r\n\r\nHello.\r\n"


def big(kib: int) -> bytes:
    """A message of about ``kib`` KiB (lines of 1,000 octets with CRLF)."""
    return b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (kib * 1024 // 1000)


def hold_delivery(store: MailStore, monkeypatch: pytest.MonkeyPatch, most: float
                  ) -> tuple[threading.Event, threading.Event, threading.Event]:
    """Make each copy the store writes wait for ``gate`` (``most`` seconds at most):
    (gate, started: a write is waiting, finished: one was written)."""
    gate, started, finished = threading.Event(), threading.Event(), threading.Event()
    add = store.add

    def held_add(name: str, data: bytes) -> MailEvent:
        started.set()
        gate.wait(most)
        event = add(name, data)
        finished.set()
        return event

    monkeypatch.setattr(store, "add", held_add)
    return gate, started, finished


async def smtp_lab(tmp_path: Path, **options: str) -> tuple[Engine, SmtpBackend, int]:
    engine = Engine()
    info = await engine.add_server("smtp", port=0, options={"root": str(tmp_path),
                                                             **options})
    backend = engine.server_backend(info.id)
    assert isinstance(backend, SmtpBackend)
    return engine, backend, int(info.address.rpartition(":")[2])


def send(port: int, to: list[str], data: bytes = MESSAGE) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        return client.sendmail("zed@example.org", to, data)


def test_recipients_over_the_cap_get_452_and_go_in_another_message(tmp_path: Path) -> None:
    async def main() -> None:
        engine, backend, port = await smtp_lab(tmp_path, max_recipients="5")
        to = [f"u{n}@lab.test" for n in range(8)]
        refused = await asyncio.to_thread(send, port, to)
        assert sorted(refused) == to[5:]
        assert {code for code, _ in refused.values()} == {452}
        text = refused["u5@lab.test"][1]
        assert text.startswith(b"4.5.3 Too many recipients: at most 5 in one message")
        assert open_store(tmp_path).mailboxes() == sorted(f"u{n}" for n in range(5))
        assert await asyncio.to_thread(send, port, to[5:]) == {}  # the rest, next message
        assert len(open_store(tmp_path).mailboxes()) == 8
        assert backend.refusals.view() == ((TOO_MANY_RECIPIENTS, 3),)
        view = mail_live.view(backend)
        assert view.refused == ((TOO_MANY_RECIPIENTS, 3),)
        assert view.caps == (("max_recipients", 5), ("max_new_mailboxes", 20),
                             ("max_folder_mb", 100))
        await asyncio.sleep(0.1)  # the Wire logs the last replies
        reply = next(m for m in engine.capture.messages
                     if m.sender is Sender.SERVER and m.summary.startswith("452"))
        notes = " ".join(n.note for n in explain(reply).fields)
        assert "too many recipients" in notes.lower() and "RFC 3463 §3.6" in str(
            [n.rfc for n in explain(reply).fields])
        await engine.shutdown()

    run(main)


def test_new_mailboxes_per_client_address_are_capped(tmp_path: Path) -> None:
    MailStore(tmp_path).deliver("ann", MESSAGE)  # exists already: never counted

    async def main() -> None:
        engine, backend, port = await smtp_lab(tmp_path, max_new_mailboxes="3")
        to = ["ann@lab.test", *(f"n{n}@lab.test" for n in range(1, 5))]
        refused = await asyncio.to_thread(send, port, to)
        assert list(refused) == ["n4@lab.test"]
        code, text = refused["n4@lab.test"]
        assert code == 452 and text.startswith(b"4.3.1 Too many new mailboxes: your "
                                               b"address may make at most 3 here")
        # the ones it made take mail again; a fourth new one is still refused
        refused = await asyncio.to_thread(send, port, ["n1@lab.test", "n5@lab.test"])
        assert list(refused) == ["n5@lab.test"]
        assert open_store(tmp_path).mailboxes() == ["ann", "n1", "n2", "n3"]
        assert backend.refusals.view() == ((TOO_MANY_MAILBOXES, 2),)
        await engine.shutdown()

    run(main)


def test_the_folder_cap_refuses_452_for_now_and_552_for_never(tmp_path: Path) -> None:
    async def main() -> None:
        engine, backend, port = await smtp_lab(tmp_path, max_folder_mb="1")
        data = big(300)

        def session() -> list[tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
                client.ehlo()
                replies = []
                for to in (4, 3, 1):  # 1.2 MiB never fits; 0.9 MiB does; then full
                    client.mail("zed@example.org")
                    for n in range(to):
                        client.rcpt(f"r{n}@lab.test")
                    replies.append(client.data(data))
                return replies

        never, fits, full = await asyncio.to_thread(session)
        assert never[0] == 552 and never[1].startswith(
            b"5.3.4 Message too big for the mail folder: 4 copies take 1.2 MiB")
        assert fits[0] == 250
        assert full[0] == 452 and full[1].startswith(b"4.3.1 Mail folder full: it holds 0.9 "
                                                     b"MiB of its 1 MiB")
        assert len(open_store(tmp_path).everything()) == 3
        assert folder_bytes(tmp_path) < 1024 * 1024
        assert backend.refusals.view() == ((FOLDER_FULL, 2),)
        await engine.shutdown()

    run(main)


def test_delivery_runs_in_a_worker_while_the_loop_answers_a_noop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delivery's writes wait on a gate the test opens only after another
    connection's NOOP is answered: delivering on the loop would block that NOOP
    until the gate gave up (and the delivery would have finished first)."""
    store = open_store(tmp_path)
    gate, started, finished = hold_delivery(store, monkeypatch, 20)
    heard: list[int] = []

    async def main() -> None:
        engine, backend, port = await smtp_lab(tmp_path)
        stop = store.watch(lambda event: heard.append(threading.get_ident()))
        sending = asyncio.ensure_future(asyncio.to_thread(send, port, ["ann@lab.test"]))
        assert await asyncio.to_thread(started.wait, 20)

        def noop() -> tuple[int, bool]:
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
                code = client.noop()[0]
                return code, finished.is_set()

        assert await asyncio.to_thread(noop) == (250, False)  # answered mid-delivery
        gate.set()
        assert await sending == {}
        assert heard == [threading.get_ident()]  # the watchers hear it on the loop
        stop()
        await engine.shutdown()

    try:
        run(main)
    finally:
        gate.set()


def test_cap_options_are_checked_and_the_reply_line_stays_short(tmp_path: Path) -> None:
    assert Caps.from_options({}) == Caps(20, 20, 100)
    assert Caps.from_options({"max_recipients": "100", "max_folder_mb": " 5 "}) == Caps(
        100, 20, 5)
    for name, bad in (("max_recipients", "0"), ("max_new_mailboxes", "x"),
                      ("max_folder_mb", "-1"), ("max_recipients", "99999999")):
        with pytest.raises(ValueError, match=name):
            asyncio.run(start_smtp({"root": str(tmp_path), name: bad}))
    many = [f"someone{n}@lab.test" for n in range(50)]
    line = listing(many)
    assert len(line) < 450 and line.endswith(" more") and line.startswith("someone0@")
    assert listing(["a@lab.test", "b@lab.test"]) == "a@lab.test, b@lab.test"


def test_tiny_messages_count_as_the_disk_blocks_they_take(tmp_path: Path) -> None:
    """With the folder capped at 1 MiB, tiny messages (a few hundred bytes each, a
    4 KiB block on disk each) stop at about 250, not at thousands."""
    async def main() -> tuple[int, int]:
        engine, backend, port = await smtp_lab(tmp_path, max_folder_mb="1",
                                               max_new_mailboxes="1000")

        def flood() -> tuple[int, int]:
            kept = refused = 0
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
                for n in range(400):
                    try:
                        client.sendmail("zed@example.org", [f"u{n % 5}@lab.test"], MESSAGE)
                        kept += 1
                    except smtplib.SMTPDataError as exc:
                        assert exc.smtp_code == 452
                        refused += 1
            return kept, refused

        try:
            return await asyncio.to_thread(flood)
        finally:
            await engine.shutdown()

    kept, refused = run(main, timeout=120)
    assert 150 < kept < 260 and kept + refused == 400
    assert folder_bytes(tmp_path) <= 1024 * 1024 + 16 * 4096


def test_a_copy_that_cannot_be_written_takes_back_the_others_and_names_no_path(
        tmp_path: Path) -> None:
    """bob's Maildir lost its tmp/ folder: the message to ann and bob is stored for
    neither (no half delivery), and the reply is 451 with no path of the teacher's."""
    store = open_store(tmp_path)
    store.deliver("bob", MESSAGE)
    (tmp_path / "bob" / "tmp").rmdir()

    async def main() -> tuple[int, bytes]:
        engine, backend, port = await smtp_lab(tmp_path)

        def once() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
                try:
                    client.sendmail("zed@example.org", ["ann@lab.test", "bob@lab.test"],
                                    MESSAGE)
                except smtplib.SMTPDataError as exc:
                    return exc.smtp_code, exc.smtp_error
            return 250, b""

        try:
            return await asyncio.to_thread(once)
        finally:
            await engine.shutdown()

    code, text = run(main)
    assert code == 451 and str(tmp_path).encode() not in text, text
    assert store.list("ann") == [] and len(store.list("bob")) == 1


def test_listing_a_mailbox_reads_its_folders_once(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold listing of 300 messages reads the Maildir's folders once, not once a
    message (which made a 3,000-message mailbox take 41 s on the loop)."""
    import mailbox

    store = open_store(tmp_path)
    for _ in range(300):
        store.deliver("ann", MESSAGE)
    refreshes = []
    original = mailbox.Maildir._refresh
    monkeypatch.setattr(mailbox.Maildir, "_refresh",
                        lambda self: refreshes.append(1) or original(self))
    fresh = MailStore(tmp_path)  # nothing summarised yet
    assert len(fresh.list("ann")) == 300
    assert len(refreshes) <= 2
    assert len(store.list("ann")) == 300  # what add() summarised needs no reading
