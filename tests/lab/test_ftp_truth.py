"""Issue 16, FTP: active-mode data connections captured with the addresses the client
saw; replies that say what happened (426 for a transfer the client cut short, a text
for every reply, MODE/STRU/HELP/STAT, symlinks in LIST). Real ftplib and raw sockets."""

from __future__ import annotations

import asyncio
import ftplib
import re
import socket
from pathlib import Path

import pytest

from lab.dissect.ftp_data import parse_data_address
from lab.engine import Engine
from lab.model import Connection, Message, Sender
from lab.servers.ftp import FtpBackend
from tests.lab.helpers import run

MEDIUM = bytes(range(256)) * 800  # 204,800 bytes


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "real.txt").write_text("hi\n")
    (root / "link.txt").symlink_to("real.txt")
    (root / "medium.bin").write_bytes(MEDIUM)
    return root


@pytest.mark.parametrize("verb", ["PORT", "EPRT"])
def test_an_active_data_connection_is_captured_as_the_client_saw_it(
        tmp_path: Path, verb: str) -> None:
    root = _root(tmp_path)

    def session(host: str, port: int) -> tuple[str, tuple[str, int], tuple[str, int], bytes]:
        ftp = ftplib.FTP()
        ftp.connect(host, port, timeout=10)
        ftp.login("student", "lab")
        with socket.create_server(("127.0.0.1", 0)) as listener:
            mine = listener.getsockname()[:2]
            arg = (f"127,0,0,1,{mine[1] >> 8},{mine[1] & 255}" if verb == "PORT"
                   else f"|1|127.0.0.1|{mine[1]}|")
            reply = ftp.sendcmd(f"{verb} {arg}")
            ftp.sendcmd("TYPE I")
            ftp.putcmd("RETR real.txt")
            assert ftp.getresp().startswith("150")
            conn, peer = listener.accept()
            with conn:
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
        assert ftp.voidresp().startswith("226")
        ftp.quit()
        return reply, mine, peer[:2], data

    async def main() -> tuple[list[Message], dict[str, Connection], tuple[object, ...]]:
        engine = Engine()
        info = await engine.add_server("ftp", port=0, options={"root": str(root)})
        host, port = info.address.rsplit(":", 1)
        got = await asyncio.to_thread(session, host, int(port))
        await asyncio.sleep(0.1)  # the Wire's last callbacks
        messages, conns = list(engine.capture.messages), dict(engine.capture.connections)
        await engine.shutdown()
        return messages, conns, got

    messages, conns, (reply, mine, peer, data) = run(main)
    assert data == b"hi\n"
    # The reply names the client's own data port, not the Wire's listener.
    assert f"127.0.0.1:{mine[1]}" in str(reply), reply
    [data_conn] = [c for c in conns.values() if c.protocol == "ftp-data"]
    assert data_conn.client == f"{mine[0]}:{mine[1]}"  # the PORT address: the client
    assert data_conn.server == f"{peer[0]}:{peer[1]}"  # where the server came from
    [piece] = [m for m in messages if m.protocol == "ftp-data"]
    assert piece.sender is Sender.SERVER and piece.client == data_conn.client
    assert dict(piece.fields)["opened by"].startswith("the server")
    # The command as the client sent it stays; the server's rewritten one is a note
    # that the pcapng export must not put in its place (no "line" field).
    sent = [m for m in messages if m.raw.startswith(verb.encode()) and not m.injected]
    assert parse_data_address(sent[0].raw) == mine
    note = next(m for m in messages if m.injected and m.summary.startswith(f"Wire rewrote {verb}"))
    assert "line" not in dict(note.fields) and "sent to the server" in dict(note.fields)
    back = next(m for m in messages if m.injected and m.summary.startswith("Wire rewrote 200"))
    assert f"127.0.0.1:{mine[1]}".encode() in back.raw and dict(back.fields)["line"]


def test_mode_stru_help_stat_and_every_reply_has_text(tmp_path: Path) -> None:
    root = _root(tmp_path)

    def session(port: int) -> dict[str, str]:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", port, timeout=10)
        out = {"help before login": ftp.sendcmd("HELP")}
        ftp.login("student", "lab")
        for command in ("MODE S", "STRU F", "TYPE I", "CWD /", "PBSZ 0", "HELP", "HELP RETR",
                        "STAT", "STAT /", "STAT real.txt"):
            out[command] = ftp.sendcmd(command)
        for command in ("MODE B", "STRU R", "MODE X", "TYPE E"):
            try:
                ftp.sendcmd(command)
            except ftplib.error_perm as exc:
                out[command] = str(exc)
        ftp.quit()
        return out

    async def main() -> dict[str, str]:
        backend = FtpBackend(root)
        await backend.start()
        try:
            return await asyncio.to_thread(session, backend.address[1])
        finally:
            await backend.close()

    out = run(main)
    assert out["MODE S"].startswith("200 MODE S") and out["STRU F"].startswith("200 STRU F")
    assert out["MODE B"].startswith("504") and out["STRU R"].startswith("504")
    assert out["MODE X"].startswith("501") and out["TYPE E"].startswith("504")
    for reply in out.values():  # "200 " or "250 " with nothing after: never
        assert re.fullmatch(r"\d{3}[ -]\S.*", reply.splitlines()[0]), reply
    assert out["HELP"].startswith("214-") and "RETR" in out["HELP"] and "STAT" in out["HELP"]
    assert out["help before login"].startswith("214-")
    assert out["HELP RETR"].startswith("214 RETR")
    assert out["STAT"].startswith("211-") and "logged in as student" in out["STAT"]
    assert out["STAT"].splitlines()[-1].startswith("211 ")
    assert out["STAT /"].startswith("212-") and "link.txt -> real.txt" in out["STAT /"]
    assert out["STAT real.txt"].startswith("213-") and "real.txt" in out["STAT real.txt"]


def test_list_shows_where_a_symlink_points(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "out").symlink_to("/etc/hostname")

    def session(port: int) -> list[str]:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("student", "lab")
        lines: list[str] = []
        ftp.retrlines("LIST", lines.append)
        ftp.quit()
        return lines

    async def main() -> list[str]:
        backend = FtpBackend(root)
        await backend.start()
        try:
            return await asyncio.to_thread(session, backend.address[1])
        finally:
            await backend.close()

    lines = run(main)
    [link] = [line for line in lines if "link.txt" in line]
    assert link.startswith("l") and link.endswith("link.txt -> real.txt")
    [out] = [line for line in lines if " out " in line + " "]
    assert out.endswith("out -> (outside the served folder)")  # no host path shown


def _cut_short(port: int, abor_first: bool) -> list[str]:
    """RETR medium.bin in passive mode; read 100 bytes; close (reset) and ABOR, or
    ABOR and then close. The replies after 150."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as control:
        replies = control.makefile("rb")

        def command(line: str) -> str:
            control.sendall(line.encode() + b"\r\n")
            return replies.readline().decode()

        replies.readline()
        command("USER student")
        command("PASS lab")
        numbers = re.search(r"\((.*)\)", command("PASV"))
        assert numbers is not None
        n = [int(x) for x in numbers[1].split(",")]
        data = socket.create_connection(("127.0.0.1", n[4] * 256 + n[5]), timeout=10)
        assert command("RETR medium.bin").startswith("150")
        assert len(data.recv(100)) > 0
        if abor_first:
            control.sendall(b"ABOR\r\n")
            got = [replies.readline().decode()]
            data.close()
        else:
            data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            data.close()  # unread bytes: a reset, as curl -r 0-99 does
            got = [replies.readline().decode()]
            control.sendall(b"ABOR\r\n")
        got.append(replies.readline().decode())
        return got


@pytest.mark.parametrize("abor_first", [False, True], ids=["reset-then-abor", "abor"])
def test_a_download_the_client_cut_short_is_426_then_226(
        tmp_path: Path, abor_first: bool) -> None:
    root = _root(tmp_path)

    async def main() -> list[str]:
        backend = FtpBackend(root)
        await backend.start()
        try:
            return await asyncio.to_thread(_cut_short, backend.address[1], abor_first)
        finally:
            await backend.close()

    first, second = run(main)
    assert first.startswith("426 RETR medium.bin"), first
    assert f"of {len(MEDIUM):,} bytes sent" in first  # what was sent, counted
    assert "204800 bytes sent" not in first
    assert second.startswith("226"), second


def test_a_whole_download_still_ends_226(tmp_path: Path) -> None:
    root = _root(tmp_path)

    def session(port: int) -> tuple[bytes, str]:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("student", "lab")
        got: list[bytes] = []
        reply = ftp.retrbinary("RETR medium.bin", got.append)
        ftp.quit()
        return b"".join(got), reply

    async def main() -> tuple[bytes, str]:
        backend = FtpBackend(root)
        await backend.start()
        try:
            return await asyncio.to_thread(session, backend.address[1])
        finally:
            await backend.close()

    data, reply = run(main)
    assert data == MEDIUM and reply == f"226 RETR medium.bin: {len(MEDIUM)} bytes sent"
