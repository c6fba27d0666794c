"""A shared FTP server against a curious student on another "machine" (a network
namespace the test makes: tests/interop/netns.py), while another student downloads
as usual: an FTP bounce into the host's own loopback (PORT/EPRT naming 127.0.0.1 or
::1) is refused by the Wire and by the server (504, RFC 2577 §3), password guessing
is slowed and cut off after three (421), and with per-student passwords the lab's one
password no longer works from the namespace. Each refusal is in the capture and in
the server's live view. Traffic goes only to 127.0.0.1 and the namespace.
"""

from __future__ import annotations

import asyncio
import ftplib
import json
import select
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.engine import Engine
from lab.model import Message, Sender
from lab.servers import ftp_live
from lab.servers.ftp import FtpBackend
from tests.interop.netns import Netns, output
from tests.lab.helpers import run

CONTENT = "hello from the lab\r\n" * 50

#: Anonymous: bounce to the host's loopback listeners (argv: host, port, v4 port, v6
#: port or 0), then a transfer (nothing to connect to: 425) and NOOP. Prints the replies.
BOUNCE = """
import ftplib, json, sys
host, port, v4, v6 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=20)
ftp.login()
lines = [f"PORT 127,0,0,1,{v4 >> 8},{v4 & 255}", f"EPRT |1|127.0.0.1|{v4}|"]
if v6:
    lines.append(f"EPRT |2|::1|{v6}|")
lines += ["RETR hello.txt", "NOOP"]
out = []
for line in lines:
    try:
        out.append(ftp.sendcmd(line))
    except ftplib.Error as exc:
        out.append(str(exc))
ftp.quit()
print(json.dumps(out))
"""

#: A student's ordinary downloads, passive then active (argv: host, port, user, password).
DOWNLOAD = """
import ftplib, json, sys
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=20)
out = [ftp.login(user, password)[:3]]
for passive in (True, False):
    ftp.set_pasv(passive)
    got = []
    ftp.retrbinary("RETR hello.txt", got.append)
    out.append(b"".join(got).decode())
ftp.quit()
print(json.dumps(out))
"""

#: Password guesses on one connection (argv: host, port, user, guesses...): each
#: reply's code and when it came; "closed" once the server closed the connection.
GUESS = """
import ftplib, json, sys, time
host, port, user, guesses = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=30)
out, start = [], time.monotonic()
for guess in guesses:
    try:
        code = ftp.login(user, guess)[:3]
    except ftplib.Error as exc:
        code = str(exc)[:3]
    except (EOFError, OSError):
        code = "closed"
    out.append([code, time.monotonic() - start])
    if code == "closed":
        break
print(json.dumps(out))
"""

#: One login (argv: host, port, user, password): the reply's code.
LOGIN = """
import ftplib, sys
ftp = ftplib.FTP()
ftp.connect(sys.argv[1], int(sys.argv[2]), timeout=30)
try:
    print(ftp.login(sys.argv[3], sys.argv[4])[:3])
except ftplib.Error as exc:
    print(str(exc)[:3])
"""


def python(netns: Netns, script: str, *argv: Any) -> Any:
    """Run ``script`` with Python in the namespace; its printed JSON."""
    return output(netns.command(sys.executable, "-c", script, *map(str, argv)))


async def shared_ftp(engine: Engine, netns: Netns, tmp_path: Path,
                     **options: str) -> tuple[str, int, FtpBackend]:
    """An FTP server shared on the veth: its address and backend."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_text(CONTENT, newline="")
    info = await engine.add_server("ftp", port=0, options={"root": str(root), **options})
    shared = await engine.share_server(info.id, netns.host_address)
    host, _, port = shared.address.rpartition(":")
    backend = engine.server_backend(info.id)
    assert isinstance(backend, FtpBackend) and host == netns.host_address
    return host, int(port), backend


@pytest.fixture
def loopback_listeners() -> Iterator[tuple[socket.socket, socket.socket | None]]:
    """Listeners on the host's own 127.0.0.1 (and ::1 where it exists): the bounce's
    targets, which nothing must reach."""
    v4 = socket.create_server(("127.0.0.1", 0))
    try:
        v6: socket.socket | None = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        v6 = None
    yield v4, v6
    v4.close()
    if v6 is not None:
        v6.close()


def server_replies(messages: list[Message]) -> list[str]:
    return [m.summary for m in messages if m.sender is Sender.SERVER and not m.injected
            and m.protocol == "ftp"]


def test_a_bounce_into_the_hosts_loopback_is_refused_while_a_student_downloads(
        netns: Netns, tmp_path: Path,
        loopback_listeners: tuple[socket.socket, socket.socket | None]) -> None:
    v4, v6 = loopback_listeners
    v4_port = v4.getsockname()[1]
    v6_port = v6.getsockname()[1] if v6 is not None else 0

    async def main() -> tuple[list[str], list[str], list[Message], Any]:
        engine = Engine()
        try:
            host, port, backend = await shared_ftp(engine, netns, tmp_path)
            bounce, download = await asyncio.gather(
                python(netns, BOUNCE, host, port, v4_port, v6_port),
                python(netns, DOWNLOAD, host, port, "anonymous", "student@lab.test"))
            await asyncio.sleep(0.05)  # the Wire captures the last reply
            return (json.loads(bounce), json.loads(download), list(engine.capture.messages),
                    ftp_live.view(backend))
        finally:
            await engine.shutdown()

    bounce, download, messages, view = run(main, timeout=90)
    tries = 3 if v6 is not None else 2
    assert [reply[:4] for reply in bounce[:tries]] == ["504 "] * tries, bounce
    assert all("FTP bounce" in reply for reply in bounce[:tries])
    assert bounce[tries].startswith("425") and bounce[tries + 1].startswith("200")
    for listener in (v4, v6):  # nothing connected to the host's own loopback
        if listener is not None:
            assert select.select([listener], [], [], 0.2)[0] == []
    assert download == ["230", CONTENT, CONTENT]  # the other student: passive and active

    client = netns.client_address
    notes = [m.summary for m in messages if m.injected]
    refused = [n for n in notes if n.startswith("Wire refused a bounce")]
    assert refused[:2] == [f"Wire refused a bounce: 127.0.0.1 is not the client's own "
                           f"address ({client})"] * 2
    if v6 is not None:
        assert refused[2] == (f"Wire refused a bounce: ::1 is not the client's own "
                              f"address ({client})")
    replies = server_replies(messages)
    assert sum(s.startswith(("504 PORT refused", "504 EPRT refused")) for s in replies) == tries
    # no data connection went to the loopback listeners; the student's two did cross
    data = {m.connection: m for m in messages if m.protocol == "ftp-data"}
    assert len(data) == 2 and all(m.client.startswith(f"{client}:") for m in data.values())
    assert dict(view.refused) == {"FTP bounce attempts": tries}


def test_password_guessing_from_the_namespace_is_slowed_and_cut_off(
        netns: Netns, tmp_path: Path) -> None:
    async def main() -> tuple[list[list[Any]], list[str], list[Message], Any]:
        engine = Engine()
        try:
            host, port, backend = await shared_ftp(engine, netns, tmp_path)
            guesses, download = await asyncio.gather(
                python(netns, GUESS, host, port, "student", "123456", "password", "lab1",
                       "letmein"),
                python(netns, DOWNLOAD, host, port, "anonymous", "x@lab.test"))
            await asyncio.sleep(0.05)
            return (json.loads(guesses), json.loads(download), list(engine.capture.messages),
                    ftp_live.view(backend))
        finally:
            await engine.shutdown()

    guesses, download, messages, view = run(main, timeout=90)
    assert [code for code, _ in guesses] == ["530", "530", "421", "closed"], guesses
    assert guesses[1][1] >= 1.0  # at most 2 answers in the first second (0.5 s, then 1 s)
    assert download == ["230", CONTENT, CONTENT]  # anonymous, meanwhile, is served
    replies = server_replies(messages)
    assert replies.count("530 login incorrect: wrong user name or password") == 2
    assert any(s.startswith("421 3 failed logins on this connection") for s in replies)
    assert dict(view.refused) == {"failed logins": 3,
                                  "connections closed after failed logins": 1}


def test_with_student_passwords_the_lab_password_works_only_from_this_machine(
        netns: Netns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))

    def here(host: str, port: int) -> str:
        ftp = ftplib.FTP()
        ftp.connect(host, port, timeout=30)
        try:
            return ftp.login("student", "lab")[:3]
        finally:
            ftp.close()

    async def main() -> tuple[list[str], list[str], str, Any]:
        engine = Engine()
        try:
            host, port, backend = await shared_ftp(engine, netns, tmp_path, students="3")
            mine = backend.students["student2"]
            student = await python(netns, DOWNLOAD, host, port, "student2", mine)
            lab = await python(netns, LOGIN, host, port, "student", "lab")
            other = await python(netns, LOGIN, host, port, "student3", mine)
            teacher = await asyncio.to_thread(here, host, port)  # this machine, shared address
            return (json.loads(student), [lab.strip(), other.strip()], teacher,
                    ftp_live.view(backend))
        finally:
            await engine.shutdown()

    student, refused, teacher, view = run(main, timeout=90)
    assert student == ["230", CONTENT, CONTENT]
    assert refused == ["530", "530"]  # the lab's password, another student's password
    assert teacher == "230"
    assert [user for user, _ in view.students] == ["student1", "student2", "student3"]
    assert dict(view.refused) == {"failed logins": 2}
