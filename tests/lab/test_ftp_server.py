"""The FTP server behind its Wire, driven by Python's ftplib over real sockets.

The control connection crosses the Wire; data connections go straight to the backend
(the Wire's FTP helper, which will rewrite PASV/PORT, is not in front of them yet)."""

from __future__ import annotations

import asyncio
import ftplib
import io
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from lab.engine import Engine
from lab.model import Sender
from lab.servers.ftp import FtpBackend
from tests.lab.helpers import run

T = TypeVar("T")
PAYLOAD = bytes(range(256)) * 300  # 76,800 bytes, every byte value


@dataclass
class FtpLab:
    engine: Engine
    root: Path
    port: int
    backend: FtpBackend

    def client(self, user: str = "student", password: str = "lab",
               passive: bool = True) -> ftplib.FTP:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", self.port, timeout=5)
        ftp.login(user, password)
        ftp.set_pasv(passive)
        return ftp

    def control(self) -> dict[Sender, bytes]:
        """The first control connection's bytes, each side."""
        sides: dict[str, dict[Sender, bytes]] = {}
        for m in self.engine.capture.messages:
            if m.server.endswith(f":{self.port}"):
                side = sides.setdefault(m.connection, {Sender.CLIENT: b"", Sender.SERVER: b""})
                side[m.sender] += m.raw
        return next(iter(sides.values()))


def make_tree(tmp: Path) -> Path:
    root = tmp / "root"
    (root / "docs").mkdir(parents=True)
    (root / "hello.txt").write_bytes(b"Hello over FTP\r\n")
    (root / "data.bin").write_bytes(PAYLOAD)
    (root / "docs" / "a.txt").write_bytes(b"a\n")
    (tmp / "secret.txt").write_bytes(b"TOP SECRET\n")
    (root / "out").symlink_to(tmp / "secret.txt")
    (root / "outdir").symlink_to(tmp)
    return root


def ftp_run(tmp: Path, body: Callable[[FtpLab], T], **options: str) -> tuple[T, FtpLab]:
    root = make_tree(tmp)

    async def main() -> tuple[T, FtpLab]:
        engine = Engine()
        try:
            info = await engine.add_server("ftp", port=0,
                                           options={"root": str(root), **options})
            backend = engine.server_backend(info.id)
            assert isinstance(backend, FtpBackend) and backend.root == root.resolve()
            lab = FtpLab(engine, root, int(info.address.rpartition(":")[2]), backend)
            result = await asyncio.to_thread(body, lab)
            await asyncio.sleep(0.05)  # let the Wire log the last replies
            return result, lab
        finally:
            await engine.shutdown()

    return run(main, timeout=20)


def retr(ftp: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


def test_passive_session_lists_downloads_uploads_and_manages_files(tmp_path: Path) -> None:
    def body(lab: FtpLab) -> None:
        ftp = lab.client()
        assert "UNIX" in ftp.sendcmd("SYST") and "EPSV" in ftp.sendcmd("FEAT")
        lines: list[str] = []
        ftp.retrlines("LIST", lines.append)
        assert any(line.startswith("d") and line.endswith(" docs") for line in lines)
        assert any(line.endswith(" data.bin") and f" {len(PAYLOAD)} " in line for line in lines)
        assert sorted(ftp.nlst()) == ["data.bin", "docs", "hello.txt", "out", "outdir"]
        assert ftp.nlst("docs") == ["a.txt"]
        facts = dict(ftp.mlsd())
        assert facts["docs"]["type"] == "dir" and facts["data.bin"]["size"] == str(len(PAYLOAD))
        assert retr(ftp, "data.bin") == PAYLOAD
        assert retr(ftp, "data.bin", rest=1000) == PAYLOAD[1000:]  # REST resumes
        assert ftp.size("data.bin") == len(PAYLOAD)
        assert ftp.sendcmd("MDTM hello.txt").startswith("213 20")

        ftp.storbinary("STOR up.bin", io.BytesIO(PAYLOAD[::-1]))
        assert (lab.root / "up.bin").read_bytes() == PAYLOAD[::-1]
        ftp.storbinary("APPE up.bin", io.BytesIO(b"tail"))
        assert (lab.root / "up.bin").read_bytes() == PAYLOAD[::-1] + b"tail"

        assert ftp.mkd("new") == "/new" and (lab.root / "new").is_dir()
        assert ftp.cwd("new").startswith("250") and ftp.pwd() == "/new"
        ftp.cwd("/")
        assert ftp.rmd("new").startswith("250") and not (lab.root / "new").exists()
        assert ftp.rename("up.bin", "moved.bin").startswith("250")
        assert (lab.root / "moved.bin").exists() and not (lab.root / "up.bin").exists()
        assert ftp.delete("moved.bin").startswith("250") and not (lab.root / "moved.bin").exists()
        ftp.sendcmd("EPSV")  # the extended reply works too
        assert ftp.quit().startswith("221")

    _, lab = ftp_run(tmp_path, body)
    control = lab.control()
    assert control[Sender.CLIENT].startswith(b"USER student\r\nPASS lab\r\n")
    assert control[Sender.SERVER].startswith(b"220 ")
    assert b"227 " in control[Sender.SERVER] and b"(127,0,0,1," in control[Sender.SERVER]
    assert b"RETR data.bin" in control[Sender.CLIENT] and b"226 RETR" in control[Sender.SERVER]


def test_active_mode_lists_and_downloads(tmp_path: Path) -> None:
    def body(lab: FtpLab) -> None:
        ftp = lab.client(passive=False)
        lines: list[str] = []
        ftp.retrlines("LIST", lines.append)
        assert any(line.endswith(" hello.txt") for line in lines)
        assert retr(ftp, "data.bin") == PAYLOAD
        # EPRT, the extended form, as ftplib sends it for IPv6 (here by hand on IPv4)
        listener = socket.create_server(("127.0.0.1", 0))
        with listener:
            port = listener.getsockname()[1]
            assert ftp.sendcmd(f"EPRT |1|127.0.0.1|{port}|").startswith("200")
            ftp.sendcmd("TYPE I")
            ftp.putcmd("RETR hello.txt")
            assert ftp.getresp().startswith("150")
            conn, _ = listener.accept()
            with conn:
                got = b""
                while chunk := conn.recv(4096):
                    got += chunk
            assert got == b"Hello over FTP\r\n" and ftp.voidresp().startswith("226")
        with pytest.raises(ftplib.error_perm, match="504 .*FTP bounce"):
            ftp.sendcmd("PORT 10,1,2,3,40,1")
        ftp.quit()

    _, lab = ftp_run(tmp_path, body)
    assert b"PORT 127,0,0,1," in lab.control()[Sender.CLIENT]


def test_anonymous_downloads_but_cannot_change_anything(tmp_path: Path) -> None:
    def body(lab: FtpLab) -> None:
        ftp = lab.client("anonymous", "guest@example.org")
        assert retr(ftp, "hello.txt") == b"Hello over FTP\r\n"
        with pytest.raises(ftplib.error_perm, match="550 STOR refused: anonymous"):
            ftp.storbinary("STOR evil.txt", io.BytesIO(b"x"))
        for cmd in ("DELE hello.txt", "MKD x", "RMD docs", "RNFR hello.txt"):
            with pytest.raises(ftplib.error_perm, match="^550 .*anonymous"):
                ftp.sendcmd(cmd)
        ftp.quit()
        with pytest.raises(ftplib.error_perm, match="530"):
            lab.client("student", "wrong")
        with pytest.raises(ftplib.error_perm, match="530"):
            lab.client("mallory", "x")

    ftp_run(tmp_path, body)
    assert not (tmp_path / "root" / "evil.txt").exists()
    assert (tmp_path / "root" / "hello.txt").exists() and (tmp_path / "root" / "docs").exists()


def test_traversal_battery_is_refused_and_the_secret_never_sent(tmp_path: Path) -> None:
    def body(lab: FtpLab) -> None:
        ftp = lab.client()
        for name in ("../secret.txt", "docs/../../secret.txt", "out", "outdir/secret.txt",
                     str(tmp_path / "secret.txt"), "/../secret.txt"):
            with pytest.raises(ftplib.error_perm, match="^550"):
                retr(ftp, name)
        for cmd in ("CWD ../..", "CWD ..", "CWD outdir", "SIZE out", "MDTM ../secret.txt",
                    "DELE out", "RNFR ../secret.txt", "MKD ../escaped"):
            with pytest.raises(ftplib.error_perm, match="^550"):
                ftp.sendcmd(cmd)
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.storbinary("STOR ../planted.txt", io.BytesIO(b"x"))
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.nlst("outdir")
        assert ftp.pwd() == "/"
        ftp.quit()

    _, lab = ftp_run(tmp_path, body)
    every_byte = b"".join(m.raw for m in lab.engine.capture.messages)
    assert b"TOP SECRET" not in every_byte
    assert (tmp_path / "secret.txt").read_bytes() == b"TOP SECRET\n"
    assert not (tmp_path / "planted.txt").exists() and not (tmp_path / "escaped").exists()


def test_an_upload_over_the_cap_gets_552_and_is_not_kept(tmp_path: Path) -> None:
    def body(lab: FtpLab) -> None:
        ftp = lab.client()
        ftp.storbinary("STOR small.bin", io.BytesIO(b"x" * 1000))
        with pytest.raises(ftplib.error_perm, match="552 STOR big.bin refused: larger"):
            ftp.storbinary("STOR big.bin", io.BytesIO(b"x" * 5000))
        with pytest.raises(ftplib.error_perm, match="552"):
            ftp.storbinary("APPE small.bin", io.BytesIO(b"y" * 1500))
        assert ftp.size("small.bin") == 1000
        ftp.quit()

    ftp_run(tmp_path, body, upload_limit="2000")
    assert not (tmp_path / "root" / "big.bin").exists()
    assert (tmp_path / "root" / "small.bin").read_bytes() == b"x" * 1000


def test_a_data_connection_closed_mid_retr_leaves_the_server_serving(tmp_path: Path) -> None:
    def body(lab: FtpLab) -> None:
        (lab.root / "huge.bin").write_bytes(b"\x5a" * (24 * 1024 * 1024))
        ftp = lab.client()
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR huge.bin")
        assert conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # a reset, not a clean end
        with pytest.raises(ftplib.error_temp, match="426"):
            ftp.voidresp()
        assert ftp.voidcmd("NOOP").startswith("200")  # the same session goes on
        assert retr(ftp, "hello.txt") == b"Hello over FTP\r\n"
        other = lab.client()  # and so does everyone else
        assert retr(other, "data.bin") == PAYLOAD
        other.quit()
        ftp.quit()

    ftp_run(tmp_path, body)


def test_close_ends_sessions_and_frees_every_port(tmp_path: Path) -> None:
    root = make_tree(tmp_path)

    async def main() -> None:
        baseline = asyncio.all_tasks()
        backend = FtpBackend(root)
        await backend.start()
        port = backend.address[1]

        def session() -> tuple[ftplib.FTP, int]:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=5)
            ftp.login("student", "lab")
            _, data_port = ftp.makepasv()  # a passive listener left open
            return ftp, data_port

        ftp, data_port = await asyncio.to_thread(session)
        assert asyncio.all_tasks() - baseline  # the session's tasks
        await backend.close()
        await asyncio.sleep(0.05)
        assert not asyncio.all_tasks() - baseline
        for closed in (port, data_port):
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", closed), timeout=1).close()
        await asyncio.to_thread(ftp.close)

    run(main, timeout=15)
