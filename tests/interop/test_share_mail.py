"""Issue 18, cases 2 and 4, from "another machine": a network namespace reaching the
lab's shared SMTP and POP3 servers with Python's smtplib and poplib. One message to
5,000 recipients is capped (452 after the twentieth), the mail folder's cap answers
452/552, a NOOP is answered while a delivery is held half-way, POP3 password guessing
is slowed and closed after three, and student passwords open their own mailbox only
(the lab password works from this machine, not from the namespace). Each refusal is
in the capture (from the namespace's address) and counted in the server's view.
Traffic goes only to 127.0.0.1 and the namespace made here."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from lab.engine import Engine
from lab.mail import open_store
from lab.model import Sender
from lab.servers import mail_live
from lab.servers.guard import CLOSED_AFTER_FAILURES, FAILED_LOGIN
from lab.servers.mail_limits import FOLDER_FULL, TOO_MANY_RECIPIENTS, folder_bytes
from lab.servers.students import student_passwords
from tests.interop.netns import Netns, output
from tests.lab.helpers import run
from tests.lab.test_mail_limits import hold_delivery

FLOOD = """
import json, smtplib, sys
host, port = sys.argv[1], int(sys.argv[2])
body = b"Subject: flood\\r\\n\\r\\n" + (b"z" * 998 + b"\\r\\n") * 205  # 200 KiB
with smtplib.SMTP(host, port, timeout=60) as client:
    refused = client.sendmail("zed@example.org",
                              [f"u{n}@lab.test" for n in range(5000)], body)
    codes = sorted({code for code, _ in refused.values()})
    text = next(iter(refused.values()))[1].decode()
with smtplib.SMTP(host, port, timeout=60) as client:  # a normal client, served
    normal = client.sendmail("ann@example.org", ["u3@lab.test"], b"Subject: hi\\r\\n\\r\\nhi\\r\\n")
print(json.dumps({"refused": len(refused), "codes": codes, "text": text,
                  "normal": len(normal)}))
"""

FOLDER = """
import json, smtplib, sys
host, port = sys.argv[1], int(sys.argv[2])
body = b"Subject: big\\r\\n\\r\\n" + (b"y" * 998 + b"\\r\\n") * 307  # 300 KiB
replies = []
with smtplib.SMTP(host, port, timeout=60) as client:
    client.ehlo()
    for count in (4, 3, 1):
        client.mail("zed@example.org")
        for n in range(count):
            client.rcpt(f"r{n}@lab.test")
        code, text = client.data(body)
        replies.append([code, text.decode()])
print(json.dumps(replies))
"""

ONE_MAIL = """
import smtplib, sys
with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=60) as client:
    print(client.sendmail("zed@example.org", ["ann@lab.test", "bob@lab.test"],
                          b"Subject: held\\r\\n\\r\\nheld\\r\\n"))
"""

NOOP = """
import smtplib, sys
with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=60) as client:
    print(client.noop()[0])
"""

GUESS = """
import json, poplib, sys, time
host, port = sys.argv[1], int(sys.argv[2])
pop = poplib.POP3(host, port, timeout=60)
start, answers = time.monotonic(), []
for n in range(3):
    pop.user("ann")
    try:
        pop.pass_(f"guess{n}")
    except poplib.error_proto as exc:
        answers.append([round(time.monotonic() - start, 3), exc.args[0].decode()])
try:
    pop.noop()
    closed = False
except (poplib.error_proto, OSError, EOFError):
    closed = True
print(json.dumps({"answers": answers, "closed": closed}))
"""

LOGIN = """
import json, poplib, sys
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
pop = poplib.POP3(host, port, timeout=60)
pop.user(user)
try:
    print(json.dumps(pop.pass_(password).decode()))
    pop.quit()
except poplib.error_proto as exc:
    print(json.dumps(exc.args[0].decode()))
"""


async def shared(engine: Engine, netns: Netns, kind: str, root: Path,
                 **options: str) -> tuple[str, str]:
    """A ``kind`` server on ``root``, shared on the veth: its id and port."""
    info = await engine.add_server(kind, port=0, start=False,
                                   options={"root": str(root), **options})
    await engine.share_server(info.id, netns.host_address)
    started = await engine.start_server(info.id)
    return info.id, started.address.rpartition(":")[2]


async def in_netns(netns: Netns, script: str, *args: str) -> str:
    return (await output(netns.command(sys.executable, "-c", script, *args))).strip()


def from_namespace(engine: Engine, netns: Netns, prefix: str) -> list[str]:
    """The summaries of the server's replies starting ``prefix``, each checked to be
    on a connection from the namespace."""
    found = [m for m in engine.capture.messages
             if m.sender is Sender.SERVER and m.summary.startswith(prefix)]
    assert all(m.client.startswith(f"{netns.client_address}:") for m in found)
    return [m.summary for m in found]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()


def test_5000_recipients_from_the_namespace_are_capped_at_20(
        netns: Netns, tmp_path: Path) -> None:
    root = tmp_path / "mail"

    async def main() -> None:
        engine = Engine()
        node, port = await shared(engine, netns, "smtp", root)
        result = json.loads(await in_netns(netns, FLOOD, netns.host_address, port))
        assert result["refused"] == 4980 and result["codes"] == [452]
        assert result["text"].startswith("4.5.3 Too many recipients: at most 20")
        assert result["normal"] == 0  # the next client from there is served
        store = open_store(root)
        assert len(store.mailboxes()) == 20  # u0..u19
        assert len(store.list("u3")) == 2
        assert folder_bytes(root) < 5 * 1024 * 1024  # 20 copies of 200 KiB, not 1 GiB
        view = mail_live.view(engine.server_backend(node))
        assert view.refused == ((TOO_MANY_RECIPIENTS, 4980),)
        await asyncio.sleep(0.2)  # the Wire logs the last replies
        assert len(from_namespace(engine, netns, "452 4.5.3")) == 4980
        await engine.shutdown()

    run(main, timeout=240)


def test_the_folder_cap_answers_552_then_452_to_the_namespace(
        netns: Netns, tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        node, port = await shared(engine, netns, "smtp", tmp_path / "mail",
                                  max_folder_mb="1")
        never, fits, full = json.loads(await in_netns(netns, FOLDER, netns.host_address,
                                                      port))
        assert never[0] == 552 and never[1].startswith("5.3.4 Message too big")
        assert fits[0] == 250
        assert full[0] == 452 and full[1].startswith("4.3.1 Mail folder full")
        assert mail_live.view(engine.server_backend(node)).refused == ((FOLDER_FULL, 2),)
        await asyncio.sleep(0.2)
        assert [s[:9] for s in from_namespace(engine, netns, "5")] == ["552 5.3.4"]
        assert [s[:9] for s in from_namespace(engine, netns, "452")] == ["452 4.3.1"]
        await engine.shutdown()

    run(main, timeout=120)


def test_a_noop_from_the_namespace_is_answered_while_a_delivery_is_held(
        netns: Netns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delivery's writes wait on a gate opened only after the other connection's
    NOOP is answered; a delivery on the loop would hold that NOOP back."""
    root = tmp_path / "mail"
    root.mkdir()
    store = open_store(root)
    gate, started, finished = hold_delivery(store, monkeypatch, 60)

    async def main() -> None:
        engine = Engine()
        _, port = await shared(engine, netns, "smtp", root)
        sending = asyncio.ensure_future(in_netns(netns, ONE_MAIL, netns.host_address, port))
        assert await asyncio.to_thread(started.wait, 60)
        assert await in_netns(netns, NOOP, netns.host_address, port) == "250"
        assert not finished.is_set()  # the NOOP came back before the delivery ended
        gate.set()
        assert await sending == "{}"
        assert len(store.everything()) == 2
        await engine.shutdown()

    try:
        run(main, timeout=120)
    finally:
        gate.set()


def test_pop3_guessing_from_the_namespace_is_slowed_and_closed(
        netns: Netns, tmp_path: Path) -> None:
    root = tmp_path / "mail"

    async def main() -> None:
        engine = Engine()
        node, port = await shared(engine, netns, "pop3", root)
        open_store(root).deliver("ann", b"Subject: hi\r\n\r\nhi\r\n")
        result = json.loads(await in_netns(netns, GUESS, netns.host_address, port))
        answers = result["answers"]
        assert [text for _, text in answers[:2]] == [
            "-ERR [AUTH] wrong password: send USER and PASS again"] * 2
        assert answers[2][1].startswith("-ERR [AUTH] 3 failed logins on this connection: "
                                        "closing it")
        assert result["closed"]
        assert sum(1 for at, _ in answers if at < 1.0) <= 1  # at most 3 in the first second
        view = mail_live.view(engine.server_backend(node))
        assert view.refused == ((FAILED_LOGIN, 3), (CLOSED_AFTER_FAILURES, 1))
        # a normal client from there is served (in its address's turn)
        reply = json.loads(await in_netns(netns, LOGIN, netns.host_address, port,
                                          "ann", "lab"))
        assert reply.startswith("+OK ann's maildrop has 1 message")
        await asyncio.sleep(0.2)
        assert len(from_namespace(engine, netns, "-ERR [AUTH]")) == 3
        await engine.shutdown()

    run(main, timeout=120)


def test_student_passwords_from_the_namespace_and_the_lab_password_from_here(
        netns: Netns, tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        node, port = await shared(engine, netns, "pop3", tmp_path / "mail", students="3")
        passwords = student_passwords(3, "mail")
        view = mail_live.view(engine.server_backend(node))
        assert view.students == tuple(passwords.items())

        async def login(user: str, password: str) -> str:
            return str(json.loads(await in_netns(netns, LOGIN, netns.host_address, port,
                                                 user, password)))

        assert (await login("student2", passwords["student2"])).startswith(
            "+OK student2's maildrop")
        assert (await login("student3", passwords["student2"])).startswith(
            "-ERR [AUTH] wrong password")
        assert (await login("student2", "lab")).startswith("-ERR [AUTH] wrong password")
        # not shared any more: the lab password opens any mailbox from this machine
        local = await engine.share_server(node, "127.0.0.1")
        assert local.address == f"127.0.0.1:{port}"
        reply = json.loads(await output([sys.executable, "-c", LOGIN, "127.0.0.1", port,
                                         "student2", "lab"]))
        assert reply.startswith("+OK student2's maildrop")
        await engine.shutdown()

    run(main, timeout=120)
