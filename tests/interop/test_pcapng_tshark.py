"""tshark reads the pcapng of a real lab capture: HTTP, SMTP and DNS decoded as such."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import subprocess
from pathlib import Path

import dns.asyncquery
import dns.message
import pytest

from lab.clients.http import HttpClient
from lab.engine import Engine
from lab.export import ExportError, export, load_capture
from lab.store import Recorder
from tests.lab.helpers import run

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None,
                                reason="tshark is not installed (apt-get install tshark)")

MAIL = b"Subject: pcapng\r\nFrom: zed@example.org\r\nTo: ann@lab.test\r\n\r\nHello.\r\n"


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def record_a_lab(tmp_path: Path, path: Path) -> dict[str, int]:
    """HTTP, SMTP (smtplib) and DNS (dnspython) through lab servers, recorded to ``path``."""

    async def main() -> dict[str, int]:
        engine = Engine()
        recorder = Recorder(path)
        engine.capture.subscribe(recorder)
        try:
            http = await engine.add_server("http", port=0,
                                           options={"db": str(tmp_path / "notes.sqlite3")})
            smtp = await engine.add_server("smtp", port=0, options={"root": str(tmp_path)})
            name = await engine.add_server("dns", port=0)
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
        finally:
            await engine.shutdown()
            recorder.close()
        return {"http": _port(http.address), "smtp": _port(smtp.address),
                "dns": _port(name.address)}

    return run(main)


def tshark(path: Path, ports: dict[str, int], display: str, *fields: str) -> list[str]:
    decode = ["-d", f"tcp.port=={ports['http']},http", "-d", f"tcp.port=={ports['smtp']},smtp",
              "-d", f"udp.port=={ports['dns']},dns"]
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
    assert http == ["GET|/missing|", "||404"]
    smtp = tshark(out, ports, "smtp.req", "smtp.req.command")
    commands = [line.split("|")[0].upper() for line in smtp]  # smtplib writes "ehlo"
    assert commands[:4] == ["EHLO", "MAIL", "RCPT", "DATA"] and commands[-1] == "QUIT"
    data = tshark(out, ports, "imf", "imf.subject")
    assert data == ["pcapng"]  # the mail itself, reassembled from the DATA lines
    names = tshark(out, ports, "dns", "dns.qry.name", "dns.flags.response", "dns.a")
    assert names == ["www.lab.test|0|", "www.lab.test|1|127.0.0.1"]
    handshakes = tshark(out, ports, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.dstport")
    assert sorted(int(p) for p in handshakes) == sorted([ports["http"], ports["smtp"]])
    problems = tshark(out, ports, "_ws.expert.severity >= warning", "_ws.expert.message")
    assert problems == []  # no lost segment, no bad sequence number
    assert len(load_capture(recorded).messages) >= 14


def test_export_names_a_capture_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cslab"
    bad.write_text("not a capture\n", encoding="utf-8")
    with pytest.raises(ExportError, match="line 1: not JSON"):
        export(bad, "pcapng", tmp_path / "x.pcapng")
