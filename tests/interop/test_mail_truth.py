"""Issue 16, item 11: SMTP and POP3 details, with real clients against ``cslab serve``.

RCPT TO:<postmaster> is accepted (RFC 5321 4.5.1); EHLO advertises PIPELINING;
``cslab serve smtp --auth`` requires AUTH PLAIN/LOGIN (smtplib logs in), and without
it AUTH is refused; POP3's TOP reply says its size as RETR's does, so tshark decodes
a pcapng export of a TOP conversation with no malformed expert info."""

from __future__ import annotations

import mailbox
import os
import poplib
import shutil
import smtplib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Queue

import pytest

from lab.mail import MailStore
from tests.interop.test_mail_clients import Served

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = (b"Subject: To the postmaster\r\nFrom: zed@example.org\r\nTo: postmaster\r\n\r\n"
           b"Your server accepts this.\r\n")
LONG = (b"Subject: Three lines\r\nFrom: zed@example.org\r\nTo: ann@lab.test\r\n\r\n"
        b"One.\r\n.Two starts with a dot.\r\nThree.\r\n")


def serve(tmp: Path, kind: str, *extra: str) -> Served:
    """``cslab serve KIND --port 0 --root TMP/mail EXTRA...``, started."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CSLAB_DATA_DIR": str(tmp / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "serve", kind, "--port", "0",
         "--root", str(tmp / "mail"), *extra],
        cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    served = Served(proc, Queue())

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            served.lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    first = served.lines.get(timeout=15)
    assert first.startswith("listening on 127.0.0.1:"), first
    served.port = int(first.rpartition(":")[2])
    return served


@pytest.fixture
def started() -> Iterator[list[Served]]:
    running: list[Served] = []
    yield running
    for served in running:
        if served.proc.poll() is None:
            served.stop()
        if served.proc.stdout is not None:
            served.proc.stdout.close()


def test_postmaster_without_a_domain_is_accepted_and_delivered(
        tmp_path: Path, started: list[Served]) -> None:
    smtp = serve(tmp_path, "smtp")
    started.append(smtp)
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        assert client.sendmail("zed@example.org", ["postmaster"], MESSAGE) == {}
        code, _ = client.rcpt("Postmaster")  # any case (a second envelope's RCPT)
    assert code == 503  # no MAIL yet in this envelope: the RCPT itself was not refused
    smtp.expect("rcpt TO:<postmaster>", "250 OK",
                "250 2.0.0 OK: delivered to postmaster@lab.test")
    box = mailbox.Maildir(tmp_path / "mail" / "postmaster", create=False)
    assert len(box) == 1


def test_ehlo_advertises_pipelining_and_pipelined_commands_are_answered_in_order(
        tmp_path: Path, started: list[Served]) -> None:
    smtp = serve(tmp_path, "smtp")
    started.append(smtp)
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        code, _ = client.ehlo("student.lab.test")
        assert code == 250
        assert client.has_extn("pipelining")
        assert not client.has_extn("auth")  # AUTH is off unless asked for
        last = client.ehlo_resp.splitlines()[-1] if client.ehlo_resp else b""
        assert last == b"HELP"  # PIPELINING is not the reply's last line
        assert client.sock is not None  # a pipelined group in one write (RFC 2920)
        client.sock.sendall(b"MAIL FROM:<zed@example.org>\r\nRCPT TO:<ann@lab.test>\r\n"
                            b"RCPT TO:<bob@else.test>\r\nRSET\r\n")
        replies = [client.getreply()[0] for _ in range(4)]
    assert replies == [250, 250, 550, 250]
    smtp.expect("RCPT TO:<bob@else.test>", "RSET", "250 OK", "250 OK", "550 5.7.1", "250 OK")


def test_auth_is_refused_unless_served_with_auth(tmp_path: Path,
                                                 started: list[Served]) -> None:
    smtp = serve(tmp_path, "smtp")
    started.append(smtp)
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login("student", "lab")
        code, text = client.docmd("AUTH", "PLAIN AHN0dWRlbnQAbGFi")
        assert code == 502 and b"AUTH is turned off" in text


def test_serve_smtp_auth_requires_a_login_and_takes_the_lab_user(
        tmp_path: Path, started: list[Served]) -> None:
    smtp = serve(tmp_path, "smtp", "--auth")
    started.append(smtp)
    message = MESSAGE.replace(b"To: postmaster", b"To: ann@lab.test")
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("auth") and client.has_extn("pipelining")
        assert {"PLAIN", "LOGIN"} <= set(client.esmtp_features["auth"].upper().split())
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("zed@example.org", ["ann@lab.test"], message)
        assert refused.value.smtp_code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            client.login("student", "not-the-password")
        assert wrong.value.smtp_code == 535
        assert client.login("student", "lab")[0] == 235
        assert client.sendmail("zed@example.org", ["ann@lab.test"], message) == {}
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        client.ehlo()
        client.user, client.password = "student", "lab"
        assert client.auth("LOGIN", client.auth_login)[0] == 235  # AUTH LOGIN too
    smtp.expect("530 5.7.0 Authentication required", "535", "235", "250 2.0.0 OK")
    assert len(mailbox.Maildir(tmp_path / "mail" / "ann", create=False)) == 1


def test_auth_is_an_smtp_option_only(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli", "serve", "pop3", "--port", "0", "--auth"],
        cwd=ROOT, env={**os.environ, "CSLAB_DATA_DIR": str(tmp_path)}, capture_output=True,
        text=True, timeout=60)
    assert done.returncode == 2 and "--auth is for smtp" in done.stderr


@pytest.mark.skipif(shutil.which("tshark") is None,
                    reason="tshark is not installed (apt-get install tshark)")
def test_tshark_decodes_a_pop3_top_reply_cleanly(tmp_path: Path,
                                                 started: list[Served]) -> None:
    MailStore(tmp_path / "mail").deliver("ann", LONG)
    capture = tmp_path / "pop3.jsonl"
    pop3 = serve(tmp_path, "pop3", "--capture", str(capture))
    started.append(pop3)
    client = poplib.POP3("127.0.0.1", pop3.port, timeout=10)
    client.user("ann")
    client.pass_("lab")
    status, lines, _ = client.top(1, 2)
    assert lines[-3:] == [b"", b"One.", b".Two starts with a dot."]
    words = status.split()
    top_size = sum(len(line) + 2 for line in lines)  # what follows, unstuffed
    assert words[0] == b"+OK" and int(words[1]) == top_size and words[2].startswith(b"octets")
    assert client.retr(1)[0].startswith(b"+OK %d octets" % len(LONG))
    assert client.quit().startswith(b"+OK")
    pop3.expect("QUIT", "+OK")
    pop3.stop()

    pcap = tmp_path / "pop3.pcapng"
    subprocess.run([sys.executable, "-m", "lab.cli", "export", str(capture), "--format",
                    "pcapng", "-o", str(pcap)], cwd=ROOT, check=True, timeout=60,
                   capture_output=True)

    def tshark(display: str, *fields: str) -> list[str]:
        out = subprocess.run(
            ["tshark", "-r", str(pcap), "-d", f"tcp.port=={pop3.port},pop", "-Y", display,
             "-T", "fields", "-E", "separator=|", *[a for f in fields for a in ("-e", f)]],
            capture_output=True, text=True, timeout=60, check=True)
        return [line for line in out.stdout.splitlines() if line.strip("|")]

    commands = tshark("pop.request", "pop.request.command")
    assert [c.upper() for c in commands] == ["USER", "PASS", "TOP", "RETR", "QUIT"]
    reply = f'pop.response.description contains "{top_size} octets"'
    assert tshark(reply, "pop.response.indicator") == ["+OK"]
    shown = subprocess.run(  # the body as the reply's data lines
        ["tshark", "-r", str(pcap), "-d", f"tcp.port=={pop3.port},pop", "-Y", reply,
         "-V", "-O", "pop"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Subject: Three lines" in shown and "One." in shown and "Three." not in shown
    assert tshark("pop && (_ws.malformed || _ws.expert.severity >= warning)",
                  "_ws.expert.message") == []
