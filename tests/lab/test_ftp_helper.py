"""The Wire's FTP helper: passive and active data connections cross Wires of
their own, linked to their control connection and named after their command."""

from __future__ import annotations

import asyncio
import ftplib
import io
from pathlib import Path

import pytest

from lab import peers
from lab.engine import Engine
from lab.model import Message, Sender
from tests.lab.helpers import run

CONTENT = b"hello ftp\n" * 1000


def session(host: str, port: int, passive: bool, replies: list[str]) -> tuple[list[str], bytes]:
    """A real ftplib session: list, download, upload; ``replies`` gets the 227s."""
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=10)
    ftp.login("student", "lab")
    ftp.set_pasv(passive)
    if passive:
        replies.append(ftp.sendcmd("PASV"))  # what the client is told to connect to
    names = ftp.nlst()
    got: list[bytes] = []
    ftp.retrbinary("RETR a.txt", got.append)
    ftp.storbinary("STOR up.txt", io.BytesIO(b"up" * 500))
    ftp.quit()
    return names, b"".join(got)


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_data_connections_cross_the_wire_linked_to_their_control(
        tmp_path: Path, passive: bool) -> None:
    (tmp_path / "a.txt").write_bytes(CONTENT)

    async def main() -> tuple[list[Message], dict[str, tuple[str, str | None]], list[str]]:
        engine = Engine()
        start = peers.count()
        info = await engine.add_server("ftp", port=0, options={"root": str(tmp_path)})
        host, port = info.address.rsplit(":", 1)
        replies: list[str] = []
        names, data = await asyncio.to_thread(session, host, int(port), passive, replies)
        assert names == ["a.txt"] and data == CONTENT
        assert (tmp_path / "up.txt").read_bytes() == b"up" * 500
        await asyncio.sleep(0.2)
        conns = {c.id: (c.protocol, c.parent) for c in engine.capture.connections.values()}
        messages = list(engine.capture.messages)
        await engine.shutdown()
        assert peers.count() == start  # each control connection's data Wires forgotten
        return messages, conns, replies

    messages, conns, replies = run(main)
    control = next(cid for cid, (protocol, _) in conns.items() if protocol == "ftp")
    data = [cid for cid, (protocol, parent) in conns.items()
            if protocol == "ftp-data" and parent == control]
    assert len(data) == 3  # NLST, RETR, STOR
    named = {m.summary: m.sender for m in messages if m.protocol == "ftp-data"}
    assert named == {"NLST: 1 name": Sender.SERVER, "RETR a.txt: 10.0 kB": Sender.SERVER,
                     "STOR up.txt: 1.0 kB": Sender.CLIENT}
    verb = "227" if passive else "PORT"
    # (active mode: the server's 200 naming the data Wire is written back too)
    rewrites = [m for m in messages if m.injected and not m.summary.startswith("Wire rewrote 200")]
    assert rewrites and all(m.summary.startswith(f"Wire rewrote {verb}: ") for m in rewrites)
    assert all(m.connection == control for m in rewrites)
    for reply in replies:  # the client was sent to a data Wire, not the hidden server
        host, port = ftplib.parse227(reply)
        assert any(m.summary.endswith(f"→ {host}:{port}") for m in rewrites)
    # The original line is captured too, just before its rewrite.
    originals = [m for m in messages if not m.injected and m.connection == control
                 and m.raw.startswith(verb.encode())]
    assert len(originals) == len(rewrites)


def test_a_bounce_address_is_not_redirected(tmp_path: Path) -> None:
    """PORT naming another host, or a privileged port, is passed on untouched and the
    server refuses it (504): the Wire never opens a data Wire towards an address the
    client does not own, nor to a port below 1024 (which it would then deliver to,
    defeating the server's own rule), and says so in the capture."""

    async def main() -> tuple[list[Message], tuple[tuple[str, int], ...]]:
        engine = Engine()
        info = await engine.add_server("ftp", port=0, options={"root": str(tmp_path)})
        host, port = info.address.rsplit(":", 1)

        def bounce() -> list[str]:
            ftp = ftplib.FTP()
            ftp.connect(host, int(port), timeout=10)
            ftp.login("student", "lab")
            replies = []
            for line in ("PORT 10,1,2,3,40,1", "PORT 127,0,0,1,3,231"):
                try:
                    replies.append(ftp.sendcmd(line))
                except ftplib.error_perm as exc:
                    replies.append(str(exc))
            ftp.quit()
            return replies

        replies = await asyncio.to_thread(bounce)
        assert [r[:4] for r in replies] == ["504 ", "504 "]
        assert "FTP bounce" in replies[0] and "privileged" in replies[1]
        messages = list(engine.capture.messages)
        refused = engine.server_backend(info.id).refusals.view()
        await engine.shutdown()
        return messages, refused

    messages, refused = run(main)
    notes = [m for m in messages if m.injected]
    assert [n.summary for n in notes] == [
        "Wire refused a bounce: 10.1.2.3 is not the client's own address (127.0.0.1)",
        "Wire refused a privileged data port: 999 is below 1024"]
    assert dict(notes[0].fields)["sent to the server"] == "PORT 10,1,2,3,40,1"
    assert not any(m.protocol == "ftp-data" for m in messages)
    assert dict(refused) == {"FTP bounce attempts": 1, "privileged data ports": 1}
