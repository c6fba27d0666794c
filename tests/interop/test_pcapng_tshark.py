"""tshark reads the pcapng of a real lab capture: HTTP, SMTP, DNS, FTP and WebSocket
decoded as such."""

from __future__ import annotations

import asyncio
import ftplib
import shutil
import smtplib
import subprocess
from pathlib import Path

import dns.asyncquery
import dns.message
import pytest
from websockets.sync.client import connect

from lab.clients.http import HttpClient
from lab.engine import Engine
from lab.export import ExportError, export, load_capture
from lab.recorder import Recorder
from tests.lab.helpers import run

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None,
                                reason="tshark is not installed (apt-get install tshark)")

MAIL = b"Subject: pcapng\r\nFrom: zed@example.org\r\nTo: ann@lab.test\r\n\r\nHello.\r\n"


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def record_a_lab(tmp_path: Path, path: Path) -> dict[str, int]:
    """HTTP, SMTP (smtplib), DNS (dnspython), FTP (ftplib, passive) and WebSocket
    (websockets) through lab servers, recorded to ``path``."""
    served = tmp_path / "ftp"
    served.mkdir()
    (served / "a.txt").write_bytes(b"a file\n")

    async def main() -> dict[str, int]:
        engine = Engine()
        recorder = Recorder(path)
        engine.capture.subscribe(recorder)
        try:
            http = await engine.add_server("http", port=0,
                                           options={"db": str(tmp_path / "notes.sqlite3")})
            smtp = await engine.add_server("smtp", port=0, options={"root": str(tmp_path)})
            name = await engine.add_server("dns", port=0)
            ftp = await engine.add_server("ftp", port=0, options={"root": str(served)})
            chat = await engine.add_server("ws", port=0)
            client = engine.client_object((await engine.add_client("http")).id)
            assert isinstance(client, HttpClient)
            result = await client.request("GET", f"http://{http.address}/missing", [], None)
            assert result.ok, result.error

            def send_mail() -> None:
                with smtplib.SMTP("127.0.0.1", _port(smtp.address), timeout=10) as mail:
                    mail.sendmail("zed@example.org", ["ann@lab.test"], MAIL)

            await asyncio.to_thread(send_mail)
            query = dns.message.make_query("www.lab.test", "A")
            answer = await dns.asyncquery.udp(query, "127.0.0.1", timeout=5,
                                              port=_port(name.address))
            assert answer.answer

            def fetch_and_chat() -> None:
                with ftplib.FTP() as session:
                    session.connect("127.0.0.1", _port(ftp.address), timeout=10)
                    session.login("anonymous", "x")
                    got: list[bytes] = []
                    session.retrbinary("RETR a.txt", got.append)
                    assert got == [b"a file\n"]
                with connect(f"ws://{chat.address}/?name=ann", proxy=None, compression=None,
                             open_timeout=5, close_timeout=2) as ann:
                    assert ann.recv(timeout=5) == "* here now: ann"
                    ann.send("hello")
                    while ann.recv(timeout=5) != "ann: hello":
                        pass

            await asyncio.to_thread(fetch_and_chat)
        finally:
            await engine.shutdown()
            recorder.close()
        return {"http": _port(http.address), "smtp": _port(smtp.address),
                "dns": _port(name.address), "ftp": _port(ftp.address),
                "ws": _port(chat.address)}

    return run(main)


def tshark(path: Path, ports: dict[str, int], display: str, *fields: str) -> list[str]:
    decode = ["-d", f"tcp.port=={ports['http']},http", "-d", f"tcp.port=={ports['smtp']},smtp",
              "-d", f"udp.port=={ports['dns']},dns", "-d", f"tcp.port=={ports['ftp']},ftp",
              "-d", f"tcp.port=={ports['ws']},http"]
    out = subprocess.run(["tshark", "-r", str(path), *decode, "-Y", display, "-T", "fields",
                          "-E", "separator=|", *[f for name in fields for f in ("-e", name)]],
                         capture_output=True, text=True, timeout=60, check=True)
    return [line for line in out.stdout.splitlines() if line.strip("|")]


def test_tshark_decodes_http_smtp_and_dns_from_a_recorded_lab(tmp_path: Path) -> None:
    recorded = tmp_path / "lab.cslab"
    ports = record_a_lab(tmp_path, recorded)
    out = tmp_path / "lab.pcapng"
    assert export(recorded, "pcapng", out) > 0
    http = tshark(out, ports, "http", "http.request.method", "http.request.uri",
                  "http.response.code")
    assert http[:2] == ["GET|/missing|", "||404"]
    smtp = tshark(out, ports, "smtp.req", "smtp.req.command")
    commands = [line.split("|")[0].upper() for line in smtp]  # smtplib writes "ehlo"
    assert commands[:4] == ["EHLO", "MAIL", "RCPT", "DATA"] and commands[-1] == "QUIT"
    data = tshark(out, ports, "imf", "imf.subject")
    assert data == ["pcapng"]  # the mail itself, reassembled from the DATA lines
    names = tshark(out, ports, "dns", "dns.qry.name", "dns.flags.response", "dns.a")
    assert names == ["www.lab.test|0|", "www.lab.test|1|127.0.0.1"]
    ftp = tshark(out, ports, "ftp.request", "ftp.request.command")
    assert ["USER", "PASS", "TYPE", "PASV", "RETR", "QUIT"] == [c for c in ftp if c != "EPSV"]
    assert tshark(out, ports, "ftp-data", "ftp-data.command") == ["RETR a.txt"]
    texts = tshark(out, ports, "websocket.payload.text", "websocket.payload.text")
    assert "hello" in texts and "ann: hello" in texts
    handshakes = tshark(out, ports, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.dstport")
    assert {int(p) for p in handshakes} >= {ports[k] for k in ("http", "smtp", "ftp", "ws")}
    problems = tshark(out, ports, "_ws.expert.severity >= warning", "_ws.expert.message")
    assert problems == []  # no lost segment, no bad sequence number
    assert len(load_capture(recorded).messages) >= 14


def test_export_names_a_capture_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cslab"
    bad.write_text("not a capture\n", encoding="utf-8")
    with pytest.raises(ExportError, match="line 1: not JSON"):
        export(bad, "pcapng", tmp_path / "x.pcapng")
