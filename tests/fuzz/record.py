"""Record the fuzz fixtures: real clients talking to the lab's own servers.

Run once (``.venv/bin/python -m tests.fuzz.record [DIR]``); it rewrites
``tests/fuzz/data/<protocol>.json`` (or writes into DIR). Each server runs under
``cslab serve`` on 127.0.0.1, and a ``cslab relay --protocol raw`` in front of it
captures every chunk as it crossed, in order; the real client (smtplib, poplib,
ftplib, curl, websockets, dnspython) talks to the relay. A fixture is a list of
conversations, each a list of ``{"sender": "client"|"server", "data": <base64>}`` steps.
"""

from __future__ import annotations

import base64
import contextlib
import ftplib
import io
import json
import os
import poplib
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
from websockets.sync.client import connect

DATA = Path(__file__).with_name("data")
CSLAB = [sys.executable, "-m", "lab.cli"]
HOST = "127.0.0.1"
#: The servers keep their data (notes, mail) in a throwaway home, not the user's.
_HOME = tempfile.mkdtemp(prefix="cslab-record-")
_ENV = {**os.environ, "XDG_DATA_HOME": _HOME, "XDG_CONFIG_HOME": _HOME}


@contextlib.contextmanager
def _running(args: list[str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A cslab command printing ``listening on H:P``; its port; stopped (by PID) after."""
    proc = subprocess.Popen([*CSLAB, *args], stdout=subprocess.PIPE, text=True, env=_ENV)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("listening on"):
            raise RuntimeError(f"cslab {args[0]} did not start: {first!r}")
        yield proc, int(first.rsplit(":", 1)[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _record(kind: str, client: Callable[[int], None], *, udp: bool = False,
            options: tuple[str, ...] = ()) -> list[list[dict[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "capture.jsonl"
        with _running(["serve", kind, "--port", "0", *options]) as (_, port):
            relay = ["relay", "--listen", f"{HOST}:0", "--to", f"{HOST}:{port}",
                     "--capture", str(capture), *(["--udp"] if udp else [])]
            with _running(relay) as (_, listen):
                client(listen)
                time.sleep(0.5)  # the last chunks reach the capture file
        conversations: dict[str, list[dict[str, str]]] = {}
        for line in capture.read_text().splitlines():
            record = json.loads(line)
            if record["type"] != "message":
                continue
            assert not record["truncated"], "a fixture keeps every byte"
            steps = conversations.setdefault(record["connection"], [])
            steps.append({"sender": record["sender"], "data": record["raw"]})
        return list(conversations.values())


def _smtp(port: int) -> None:
    with smtplib.SMTP(HOST, port, timeout=10) as smtp:
        smtp.ehlo("client.lab.test")
        smtp.sendmail("ann@lab.test", ["bob@lab.test", "cy@lab.test"],
                      "Subject: Hello\r\nFrom: ann@lab.test\r\n\r\nHi Bob,\r\n.dot line\r\n"
                      "..\r\nbye\r\n")
        smtp.noop()
        smtp.rset()
        smtp.verify("bob@lab.test")
        smtp.sendmail("ann@lab.test", ["bob@lab.test"], "Subject: Second\r\n\r\nx\r\n")
    with smtplib.SMTP(HOST, port, timeout=10) as smtp:
        smtp.helo("old.lab.test")
        with contextlib.suppress(smtplib.SMTPException):
            smtp.sendmail("ann@lab.test", ["../../etc@lab.test"], "no\r\n")


def _pop3(port: int) -> None:
    pop = poplib.POP3(HOST, port, timeout=10)
    pop.capa()
    pop.user("bob")
    pop.pass_("lab")
    pop.stat()
    pop.list()
    pop.uidl()
    count = len(pop.list()[1])
    if count:
        pop.retr(1)
        pop.top(1, 0)
        pop.list(1)
    with contextlib.suppress(poplib.error_proto):
        pop.retr(99)
    pop.noop()
    pop.rset()
    pop.quit()


def _ftp(port: int) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect(HOST, port, timeout=10)
        ftp.login("student", "lab")
        ftp.pwd()
        ftp.sendcmd("SYST")
        ftp.sendcmd("FEAT")
        ftp.sendcmd("TYPE I")
        lines: list[str] = []
        ftp.retrlines("LIST", lines.append)
        ftp.storbinary("STOR upload.txt", io.BytesIO(b"uploaded\r\n" * 20))
        ftp.retrbinary("RETR upload.txt", lambda _: None)
        with contextlib.suppress(ftplib.error_perm):
            ftp.cwd("nowhere")
        ftp.size("upload.txt")
        ftp.delete("upload.txt")
    with ftplib.FTP() as ftp:
        ftp.connect(HOST, port, timeout=10)
        with contextlib.suppress(ftplib.error_perm):
            ftp.login("student", "wrong")
        ftp.login()  # anonymous


def _curl(*args: str) -> None:
    subprocess.run(["curl", "-s", "-o", "/dev/null", *args], check=True, timeout=30,
                   stdout=subprocess.DEVNULL)


def _http(port: int) -> None:
    base = f"http://{HOST}:{port}"
    _curl(f"{base}/", f"{base}/style.css", f"{base}/missing", f"{base}/api/notes")
    _curl("-I", f"{base}/")
    json_type = "Content-Type: application/json"
    _curl("-H", json_type, "-d", '{"title": "curl", "body": "from curl"}', f"{base}/api/notes")
    _curl("-H", "Transfer-Encoding: chunked", "-H", json_type,
          "-d", '{"title": "chunked", "body": "sent chunked"}', f"{base}/api/notes")


def _ws(port: int) -> None:
    with connect(f"ws://{HOST}:{port}/", open_timeout=10, close_timeout=5) as ws:
        ws.send("hello, room")
        ws.recv(timeout=5)
        ws.send("x" * 300)
        ws.recv(timeout=5)
        ws.send(["frag", "mented ", "text"])
        ws.recv(timeout=5)
        ws.send(b"\x00\x01binary")
        ws.ping(b"are you there").wait(timeout=5)


def _dns_tcp(port: int) -> None:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        for name, rdtype in [("www.lab.test", "A"), ("lab.test", "MX"),
                             ("nothing.lab.test", "A"), ("lab.test", "TXT")]:
            query = dns.message.make_query(name, rdtype, use_edns=rdtype == "MX")
            dns.query.send_tcp(sock, query)
            dns.query.receive_tcp(sock)


def _dns_udp(port: int) -> None:
    for name, rdtype in [("www.lab.test", "A"), ("lab.test", "SOA"), ("nothing.lab.test", "A")]:
        dns.query.udp(dns.message.make_query(name, rdtype), HOST, port=port, timeout=5)


def steps(conversation: list[dict[str, str]]) -> list[tuple[str, bytes]]:
    """A recorded conversation as (sender, bytes) steps."""
    return [(step["sender"], base64.b64decode(step["data"])) for step in conversation]


def main(out: Path = DATA) -> None:
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as mail, tempfile.TemporaryDirectory() as files:
        Path(files, "readme.txt").write_text("hello\n")
        recordings = {
            "smtp": _record("smtp", _smtp, options=("--root", mail)),
            "pop3": _record("pop3", _pop3, options=("--root", mail)),
            "ftp": _record("ftp", _ftp, options=("--root", files)),
            "http": _record("http", _http),
            "websocket": _record("ws", _ws),
            "dns-tcp": _record("dns", _dns_tcp),
            "dns": _record("dns", _dns_udp, udp=True),
        }
    for name, conversations in recordings.items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(conversations, indent=0) + "\n")
        steps = sum(map(len, conversations))
        print(f"{path}: {len(conversations)} conversations, {steps} steps")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
