"""Issue 18, case 4 without namespaces: POP3 (USER/PASS, APOP) and SMTP AUTH logins
go through the LoginGuard (slowed per address, closed after three failures on one
connection, counted), every failure reads the same, and per-student passwords open
only their own mailbox; the lab password only from this machine."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import socket
import time
from pathlib import Path

import pytest

from lab import peers
from lab.engine import Engine
from lab.explain import explain
from lab.mail import MailStore
from lab.model import Sender
from lab.servers import mail_live
from lab.servers.guard import CLOSED_AFTER_FAILURES, FAILED_LOGIN, Refusals, delay
from lab.servers.mail_logins import MailLogins
from lab.servers.students import student_passwords
from tests.lab.helpers import run

CLOSING = b"-ERR [AUTH] 3 failed logins on this connection: closing it"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The student secret goes in the test's own data folder."""
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()


async def mail_lab(root: Path, kind: str, **options: str) -> tuple[Engine, object, int]:
    engine = Engine()
    info = await engine.add_server(kind, port=0, options={"root": str(root), **options})
    return engine, engine.server_backend(info.id), int(info.address.rpartition(":")[2])


def talk(port: int, lines: list[bytes]) -> tuple[list[bytes], bool, float]:
    """Send ``lines`` one at a time (each after the last reply); the replies, whether
    the server closed the connection after them, and the seconds it all took."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock, \
            sock.makefile("rb") as stream:
        greeting = stream.readline()
        replies = [greeting]
        for line in lines:
            sock.sendall(line + b"\r\n")
            replies.append(stream.readline())
        closed = stream.readline() == b""
    return replies, closed, time.monotonic() - start


def test_pop3_guessing_is_slowed_closed_after_three_and_counted(tmp_path: Path) -> None:
    MailStore(tmp_path).deliver("ann", b"Subject: hi\r\n\r\nhi\r\n")

    async def main() -> None:
        engine, backend, port = await mail_lab(tmp_path, "pop3")
        guesses = [b"USER ann", b"PASS guess1", b"USER nobody", b"PASS guess2",
                   b"APOP ann " + b"0" * 32]
        replies, closed, took = await asyncio.to_thread(talk, port, guesses)
        assert replies[2] == replies[4] == (b"-ERR [AUTH] wrong password: send USER and "
                                            b"PASS again\r\n")  # the same for any user
        assert replies[3] == b"+OK nobody: now send PASS with the password\r\n"
        assert replies[5].startswith(CLOSING) and closed
        assert took >= delay(1) + delay(2) + delay(3)  # 0.5 + 1 + 2 seconds of waiting
        view = mail_live.view(backend)
        assert view.refused == ((FAILED_LOGIN, 3), (CLOSED_AFTER_FAILURES, 1))
        # the right password still works from the same address (in its turn)
        replies, closed, _ = await asyncio.to_thread(
            talk, port, [b"USER ann", b"PASS lab", b"QUIT"])
        assert replies[2].startswith(b"+OK ann's maildrop has 1 message") and closed
        await asyncio.sleep(0.1)
        reply = next(m for m in engine.capture.messages
                     if m.sender is Sender.SERVER and m.summary.startswith("-ERR [AUTH] 3"))
        rfcs = [n.rfc for n in explain(reply).fields]
        assert "RFC 3206 §5" in rfcs
        await engine.shutdown()

    run(main)


def test_students_open_only_their_own_mailbox(tmp_path: Path) -> None:
    async def main() -> None:
        engine, backend, port = await mail_lab(tmp_path, "pop3", students="2")
        passwords = student_passwords(2, "mail")
        assert mail_live.view(backend).students == tuple(passwords.items())
        own = passwords["student1"].encode()
        replies, _, _ = await asyncio.to_thread(talk, port, [
            b"USER student2", b"PASS " + own,  # student1's password: not student2's
            b"USER student1", b"PASS " + own, b"QUIT"])
        assert replies[2].startswith(b"-ERR [AUTH] wrong password")
        assert replies[4].startswith(b"+OK student1's maildrop")
        # the lab password still opens any mailbox from this machine
        replies, _, _ = await asyncio.to_thread(talk, port, [
            b"USER student2", b"PASS lab", b"QUIT"])
        assert replies[2].startswith(b"+OK student2's maildrop")
        await engine.shutdown()

    run(main)


def test_the_lab_password_is_refused_from_another_machine_when_students_are_on() -> None:
    note: list[str] = []
    wire_socket = ("127.0.0.1", 40001)  # stands for a student on another machine
    peers.register(wire_socket, peers.Peer("10.9.8.7", 5555, note.append))
    try:
        with_students = MailLogins("lab", 2, Refusals())
        student1 = with_students.students["student1"]
        assert with_students.opens("student1", student1, wire_socket)
        assert not with_students.opens("student2", student1, wire_socket)
        assert not with_students.opens("ann", "lab", wire_socket)
        assert with_students.opens("ann", "lab", ("127.0.0.1", 40002))  # this machine
        banner = "<1.2@lab.test>"
        digest = hashlib.md5((banner + student1).encode()).hexdigest()
        assert with_students.opens_apop("student1", banner, digest, wire_socket)
        lab_digest = hashlib.md5((banner + "lab").encode()).hexdigest()
        assert not with_students.opens_apop("student1", banner, lab_digest, wire_socket)
        without = MailLogins("lab", 0, Refusals())  # as before: one password for all
        assert without.opens("ann", "lab", wire_socket) and without.view() == ()
        smtp = MailLogins("lab", 1, Refusals(), lab_user="student")
        assert smtp.opens("student", "lab", ("127.0.0.1", 40002))
        assert not smtp.opens("ann", "lab", ("127.0.0.1", 40002))
        assert not smtp.opens("student", "lab", wire_socket)
    finally:
        peers.forget(wire_socket)


def test_smtp_auth_is_slowed_and_closed_with_421_after_three(tmp_path: Path) -> None:
    async def main() -> None:
        engine, backend, port = await mail_lab(tmp_path, "smtp", auth="on", students="1")

        def guess() -> list[int]:
            codes = []
            client = smtplib.SMTP("127.0.0.1", port, timeout=30)
            client.ehlo()
            for n, mechanism in enumerate(("PLAIN", "LOGIN", "PLAIN")):
                client.user, client.password = "student", f"guess{n}"
                with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                    client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
                codes.append(refused.value.smtp_code)
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.noop()
            return codes

        assert await asyncio.to_thread(guess) == [535, 535, 421]
        assert backend.refusals.view() == ((FAILED_LOGIN, 3),  # type: ignore[attr-defined]
                                           (CLOSED_AFTER_FAILURES, 1))

        def log_in(user: str, password: str) -> int:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                code = client.login(user, password)[0]
                client.sendmail("zed@example.org", ["ann@lab.test"], b"Subject: x\r\n\r\nx\r\n")
                return code

        assert await asyncio.to_thread(log_in, "student", "lab") == 235  # this machine
        own = student_passwords(1, "mail")["student1"]
        assert await asyncio.to_thread(log_in, "student1", own) == 235
        await engine.shutdown()

    run(main, timeout=60)


def test_pop3_and_smtp_on_one_mail_folder_share_one_guard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """They check the same passwords: two wrong POP3 passwords, then a wrong SMTP AUTH
    from the same address is the address's third failure (its wait the third one's),
    each counted in its own server's panel."""
    from lab.servers import guard as guard_module

    waits: list[int] = []
    monkeypatch.setattr(guard_module, "delay", lambda failures: waits.append(failures) or 0.0)

    async def main() -> None:
        engine, pop3, pop3_port = await mail_lab(tmp_path, "pop3")
        info = await engine.add_server("smtp", port=0,
                                       options={"root": str(tmp_path), "auth": "on"})
        smtp = engine.server_backend(info.id)
        smtp_port = int(info.address.rpartition(":")[2])
        await asyncio.to_thread(talk, pop3_port, [b"USER ann", b"PASS no", b"USER ann",
                                                  b"PASS nope", b"QUIT"])

        def auth() -> int:
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
                client.ehlo()
                client.user, client.password = "student", "wrong"
                with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                    client.auth("PLAIN", client.auth_plain)
                return refused.value.smtp_code

        assert await asyncio.to_thread(auth) == 535
        assert waits == [1, 2, 3]  # one count for the address, whichever server
        assert pop3.refusals.view() == ((FAILED_LOGIN, 2),)  # type: ignore[attr-defined]
        assert smtp.refusals.view() == ((FAILED_LOGIN, 1),)  # type: ignore[attr-defined]
        await engine.shutdown()

    run(main, timeout=60)
