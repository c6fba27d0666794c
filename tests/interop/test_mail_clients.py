"""cslab serve smtp and cslab serve pop3 as real processes on one mail folder, talked
to by Python's smtplib and poplib and by curl's smtp:// and pop3://."""

from __future__ import annotations

import mailbox
import os
import poplib
import queue
import shutil
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.test_cli import port_is_free

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = (b"Subject: Hello from {who}\r\nFrom: Zed <zed@example.org>\r\nTo: ann@lab.test\r\n"
           b"\r\nA first line.\r\n.A line that starts with a dot\r\nThe end.\r\n")

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@dataclass
class Served:
    """One ``cslab serve`` process whose stdout lines arrive on a queue."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str]
    port: int = 0

    def expect(self, *needles: str, timeout: float = 5.0) -> list[str]:
        """Read stdout lines until each needle was seen, in order, in some line."""
        seen: list[str] = []
        wanted = list(needles)
        deadline = time.monotonic() + timeout
        while wanted:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"never printed {wanted!r}; saw {seen!r}") from None
            seen.append(line)
            if wanted[0] in line:
                wanted.pop(0)
        return seen

    def stop(self) -> None:
        """SIGTERM: it must exit 0 and leave its port free."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(10) == 0
        assert port_is_free(self.port)


def serve(kind: str, root: Path, data: Path) -> Served:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CSLAB_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "serve", kind, "--port", "0", "--root", str(root)],
        cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    served = Served(proc, queue.Queue())

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            served.lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = served.lines.get(timeout=10)
    except queue.Empty:
        proc.kill()
        raise AssertionError(f"cslab serve {kind} did not start") from None
    assert first.startswith("listening on 127.0.0.1:"), first
    served.port = int(first.rpartition(":")[2])
    return served


@dataclass
class Mail:
    smtp: Served
    pop3: Served
    root: Path


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mail]:
    tmp = tmp_path_factory.mktemp("mail")
    started: list[Served] = []
    try:
        started.append(serve("smtp", tmp / "mail", tmp / "data"))
        started.append(serve("pop3", tmp / "mail", tmp / "data"))
        yield Mail(started[0], started[1], tmp / "mail")
        for served in started:
            served.stop()
    finally:
        for served in started:
            if served.proc.poll() is None:
                served.proc.kill()
                served.proc.wait()
            if served.proc.stdout is not None:
                served.proc.stdout.close()


def drain(*served: Served) -> None:
    for one in served:
        while not one.lines.empty():
            one.lines.get_nowait()


def test_smtplib_sends_and_poplib_retrieves_the_same_message(mail: Mail) -> None:
    drain(mail.smtp, mail.pop3)
    message = MESSAGE.replace(b"{who}", b"smtplib")
    with smtplib.SMTP("127.0.0.1", mail.smtp.port, timeout=5) as client:
        assert client.sendmail("zed@example.org", ["ann@lab.test"], message) == {}
    # smtplib writes its verbs in lower case; the summary shows the line as sent.
    seen = mail.smtp.expect("220 lab.test", "smtp mail FROM:<zed@example.org>",
                            "smtp rcpt TO:<ann@lab.test>", "354",
                            'message: "Hello from smtplib"',
                            "250 2.0.0 OK: delivered to ann@lab.test")
    assert any(line.endswith(" smtp 250 lab.test") for line in seen)  # one multi-line reply
    assert len(mailbox.Maildir(mail.root / "ann", create=False)) == 1

    pop = poplib.POP3("127.0.0.1", mail.pop3.port, timeout=5)
    pop.user("ann")
    pop.pass_("lab")
    assert pop.stat()[0] == 1
    lines = pop.retr(1)[1]
    assert b"\r\n".join(lines).endswith(message.rstrip(b"\r\n"))
    pop.dele(1)
    assert pop.quit().startswith(b"+OK")
    seen = mail.pop3.expect("+OK Client-Server Lab POP3 server ready", "USER ann",
                            "PASS ****", "STAT", "RETR 1", 'message: "Hello from smtplib"',
                            "DELE 1", "QUIT", "+OK signing off (1 message deleted")
    assert not any("PASS lab" in line for line in seen)  # the summary masks the password
    assert len(mailbox.Maildir(mail.root / "ann", create=False)) == 0


@needs_curl
def test_curl_sends_over_smtp_and_retrieves_over_pop3(mail: Mail, tmp_path: Path) -> None:
    drain(mail.smtp, mail.pop3)
    letter = tmp_path / "letter.eml"
    letter.write_bytes(MESSAGE.replace(b"{who}", b"curl"))
    done = subprocess.run(
        ["curl", "-sS", f"smtp://127.0.0.1:{mail.smtp.port}", "--mail-from", "zed@example.org",
         "--mail-rcpt", "ann@lab.test", "--upload-file", str(letter)],
        capture_output=True, timeout=10, check=False)
    assert done.returncode == 0, done.stderr
    mail.smtp.expect("220 lab.test", "FROM:<zed@example.org>", "TO:<ann@lab.test>",
                     "Hello from curl", "delivered to ann@lab.test")

    done = subprocess.run(["curl", "-sS", f"pop3://ann:lab@127.0.0.1:{mail.pop3.port}/1"],
                          capture_output=True, timeout=10, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"Return-Path: <zed@example.org>\r\nReceived: from ")
    assert done.stdout.endswith(b"\r\n.A line that starts with a dot\r\nThe end.\r\n")
    mail.pop3.expect("APOP ann", "RETR 1", "QUIT")  # curl uses APOP when it can
    listing = subprocess.run(["curl", "-sS", f"pop3://ann:lab@127.0.0.1:{mail.pop3.port}/"],
                             capture_output=True, timeout=10, check=False)
    assert listing.stdout.startswith(b"1 ") and listing.stdout.count(b"\r\n") == 1


@needs_curl
def test_curl_relay_attempt_is_refused_at_rcpt(mail: Mail, tmp_path: Path) -> None:
    drain(mail.smtp)
    letter = tmp_path / "letter.eml"
    letter.write_bytes(MESSAGE.replace(b"{who}", b"a relay"))
    done = subprocess.run(
        ["curl", "-sS", f"smtp://127.0.0.1:{mail.smtp.port}", "--mail-from", "zed@example.org",
         "--mail-rcpt", "friend@example.com", "--upload-file", str(letter)],
        capture_output=True, timeout=10, check=False)
    assert done.returncode != 0 and b"550" in done.stderr
    mail.smtp.expect("TO:<friend@example.com>", "550 5.7.1 relaying denied")
    assert not (mail.root / "friend").exists()
