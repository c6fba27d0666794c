"""The FTP server and its Wire against abuse, on this machine: PASV in a loop holds one
data listener (not one per PASV), a data Wire that cannot be opened is a note and the
session goes on, failed logins are slowed and cut off after three (421), and the
per-student passwords leave the lab user's working from this machine.
(tests/interop/test_share_ftp.py tries the same from another "machine".)"""

from __future__ import annotations

import asyncio
import ftplib
import io
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lab import peers
from lab.engine import Engine
from lab.model import Message, Sender
from lab.servers import ftp_live
from lab.servers.ftp import FtpBackend
from lab.servers.ftp_active import BOUNCE, PRIVILEGED, refusal
from lab.wire.layers import ftp as ftp_layer
from tests.lab.helpers import open_fds, run

PASVS = 2000


def lab_session(tmp_path: Path, body: Any, timeout: float = 60,
                **options: str) -> tuple[Any, list[Message], FtpBackend]:
    """Run ``body(port, backend)`` in a thread against an FTP server behind its Wire;
    its result, the captured messages and the backend."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / "hello.txt").write_bytes(b"hello\r\n")

    async def main() -> tuple[Any, list[Message], FtpBackend]:
        engine = Engine()
        try:
            info = await engine.add_server("ftp", port=0,
                                           options={"root": str(root), **options})
            backend = engine.server_backend(info.id)
            assert isinstance(backend, FtpBackend)
            port = int(info.address.rpartition(":")[2])
            result = await asyncio.to_thread(body, port, backend)
            await asyncio.sleep(0.05)  # the Wire captures the last reply
            return result, list(engine.capture.messages), backend
        finally:
            await engine.shutdown()

    return run(main, timeout=timeout)


def test_pasv_in_a_loop_keeps_one_data_listener(tmp_path: Path) -> None:
    def body(port: int, backend: FtpBackend) -> tuple[int, int, str, str]:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", port, timeout=20)
        ftp.login("anonymous", "a@b")
        ftp.sendcmd("PASV")
        before = open_fds()
        for _ in range(PASVS):
            last = ftp.sendcmd("PASV")
        after = open_fds()
        host, data_port = ftplib.parse227(last)
        got: list[bytes] = []
        ftp.retrbinary("RETR hello.txt", got.append)  # the last PASV's data Wire works
        noop = ftp.sendcmd("NOOP")
        ftp.quit()
        return before, after, noop, b"".join(got).decode()

    start = peers.count()
    (before, after, noop, got), messages, _ = lab_session(tmp_path, body, timeout=120)
    assert after - before < 50, (before, after)
    assert noop.startswith("200") and got == "hello\r\n"
    assert not [m.summary for m in messages if m.injected
                and not m.summary.startswith("Wire rewrote 227")]
    assert peers.count() == start  # the session's client and data paths forgotten


def test_a_data_wire_that_cannot_open_is_a_note_and_the_session_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_socket(self: Any) -> None:
        raise IndexError("list index out of range")  # as asyncio at the open-file limit

    monkeypatch.setattr(ftp_layer.DataWire, "start", no_socket)

    def body(port: int, backend: FtpBackend) -> tuple[str, str]:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("anonymous", "a@b")
        pasv = ftp.sendcmd("PASV")
        noop = ftp.sendcmd("NOOP")
        ftp.quit()
        return pasv, noop

    (pasv, noop), messages, backend = lab_session(tmp_path, body)
    assert ftplib.parse227(pasv)[1] != 0 and noop.startswith("200")
    [note] = [m for m in messages if m.injected]
    assert note.summary == ("Wire could not open a data path: no free socket (the "
                            "open-file limit?)")
    assert dict(note.fields)["line"].startswith("227")  # passed on unchanged


def attempts(port: int, user: str, passwords: list[str]) -> list[tuple[str, float]]:
    """Log in with each password on one connection: each reply's code and when it came
    (seconds from the first PASS); ("closed", t) once the server closed the connection."""
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=30)
    out: list[tuple[str, float]] = []
    start = time.monotonic()
    for password in passwords:
        try:
            out.append((ftp.login(user, password)[:3], time.monotonic() - start))
        except ftplib.Error as exc:
            out.append((str(exc)[:3], time.monotonic() - start))
        except (EOFError, OSError):
            out.append(("closed", time.monotonic() - start))
            break
    ftp.close()
    return out


def test_three_failed_logins_are_slowed_then_cut_off_with_421(tmp_path: Path) -> None:
    def body(port: int, backend: FtpBackend) -> tuple[list[tuple[str, float]], str]:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", port, timeout=10)
        unknown = ftp.sendcmd("USER mallory")  # no user enumeration: asked like any other
        ftp.close()
        return attempts(port, "student", ["no", "nope", "still no", "lab"]), unknown

    (tries, unknown), messages, backend = lab_session(tmp_path, body)
    assert unknown.startswith("331")
    assert [code for code, _ in tries] == ["530", "530", "421", "closed"]
    assert tries[1][1] >= 1.0  # 0.5 s, then 1 s more: no burst of guesses
    replies = [m.summary for m in messages if m.sender is Sender.SERVER and not m.injected]
    assert any(s.startswith("421 3 failed logins on this connection") for s in replies)
    assert dict(ftp_live.view(backend).refused) == {
        "failed logins": 3, "connections closed after failed logins": 1}


def test_student_passwords_and_the_lab_password_from_this_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))

    def body(port: int, backend: FtpBackend) -> list[str]:
        assert list(backend.students) == ["student1", "student2"]
        out = []
        for user, password in [("student1", backend.students["student1"]),
                               ("student", "lab"),
                               ("student2", backend.students["student1"])]:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=10)
            try:
                out.append(ftp.login(user, password)[:3])
                ftp.storbinary(f"STOR {user}.txt", io.BytesIO(b"mine"))
            except ftplib.Error as exc:
                out.append(str(exc)[:3])
            ftp.close()
        return out

    codes, _, backend = lab_session(tmp_path, body, students="2")
    assert codes == ["230", "230", "530"]  # the lab's password works here (loopback)
    assert (tmp_path / "root" / "student1.txt").read_bytes() == b"mine"  # the lab's rights
    view = ftp_live.view(backend)
    assert [user for user, _ in view.students] == ["student1", "student2"]
    assert view.students[0][1] == backend.students["student1"]


def test_the_server_refuses_a_bounce_on_its_own() -> None:
    """Behind its Wire the server accepts only the data Wire opened for that control
    connection or the real client's own address; reached directly, only the client's."""
    control = ("127.0.0.1", 40000)
    behind = SimpleNamespace(client_host=control[0], client_port=control[1])
    start = peers.count()
    peers.register(control, peers.Peer("10.0.0.5", 5555, lambda text: None))
    try:
        assert refusal(behind, "127.0.0.1", 8080)[0] == BOUNCE  # type: ignore[arg-type, index]
        listening = [True]
        peers.opened(control, ("127.0.0.1", 8080), lambda: listening[0])
        assert refusal(behind, "127.0.0.1", 8080) is None  # type: ignore[arg-type]
        listening[0] = False  # the data Wire let its port go: it may be anyone's now
        assert refusal(behind, "127.0.0.1", 8080)[0] == BOUNCE  # type: ignore[arg-type, index]
        peers.opened(("127.0.0.1", 40001), ("127.0.0.1", 8082), lambda: True)
        assert peers.count() == start + 2  # its client and its paths; none for an unknown one
        assert refusal(behind, "127.0.0.1", 8081)[0] == BOUNCE  # type: ignore[arg-type, index]
        assert refusal(behind, "10.0.0.5", 2000) is None  # type: ignore[arg-type]
        assert refusal(behind, "10.0.0.5", 999)[0] == PRIVILEGED  # type: ignore[arg-type, index]
        assert refusal(behind, "::1", 2000)[0] == BOUNCE  # type: ignore[arg-type, index]
    finally:
        peers.forget(control)
    direct = SimpleNamespace(client_host="10.0.0.7", client_port=40001)
    assert refusal(direct, "10.0.0.7", 2000) is None  # type: ignore[arg-type]
    assert refusal(direct, "127.0.0.1", 2000)[0] == BOUNCE  # type: ignore[arg-type, index]


def test_clients_that_reset_with_lines_queued_leave_no_data_wires_and_no_tracebacks(
        tmp_path: Path) -> None:
    """Each client queues 30 PORTs and resets: no data Wire is opened for a control
    connection that has ended, nothing stays in lab/peers.py, and the loop reports no
    exception nobody retrieved (a traceback on stderr per reset, before)."""
    import gc
    import socket
    import struct

    root = tmp_path / "root"
    root.mkdir()

    async def main() -> tuple[list[str], int, int]:
        loop = asyncio.get_running_loop()
        unretrieved: list[str] = []
        loop.set_exception_handler(lambda _loop, context: unretrieved.append(
            str(context.get("message"))))
        engine = Engine()
        info = await engine.add_server("ftp", port=0, options={"root": str(root)})
        port = int(info.address.rpartition(":")[2])
        before, start = open_fds(), peers.count()

        def attack() -> None:
            for _ in range(10):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.recv(1000)
                sock.sendall(b"USER anonymous\r\nPASS x\r\n" + b"".join(
                    b"PORT 127,0,0,1,%d,%d\r\n" % divmod(20000 + k, 256) for k in range(30)))
                time.sleep(0.01)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

        await asyncio.to_thread(attack)
        for _ in range(300):  # until the sessions have ended
            if engine.server_backend(info.id)._server.connections == {}:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        gc.collect()
        after = open_fds()
        left = peers.count() - start
        await engine.shutdown()
        gc.collect()
        await asyncio.sleep(0)
        return unretrieved, after - before, left

    unretrieved, grown, left = run(main)
    assert unretrieved == [] and left == 0
    assert grown < 5, grown  # no data Wire listening for a session that ended


def test_uploads_stop_where_the_served_folder_would_pass_its_cap(tmp_path: Path) -> None:
    """With the folder capped at 1 MiB, a 600 KiB upload is kept, a second is refused
    with 552 and nothing of it is left, the refusal is counted, and the view says the
    cap; a download still works."""
    def body(port: int, backend: FtpBackend) -> tuple[str, str, str]:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", port, timeout=20)
        ftp.login("student", "lab")
        first = ftp.storbinary("STOR one.bin", io.BytesIO(b"1" * 600 * 1024))
        with pytest.raises(ftplib.error_perm) as refused:
            ftp.storbinary("STOR two.bin", io.BytesIO(b"2" * 600 * 1024))
        got: list[bytes] = []
        ftp.retrbinary("RETR hello.txt", got.append)
        ftp.quit()
        return first, str(refused.value), b"".join(got).decode()

    (first, refused, got), messages, backend = lab_session(tmp_path, body,
                                                           max_folder_mb="1")
    assert first.startswith("226") and got == "hello\r\n"
    assert refused.startswith("552 STOR two.bin refused: the served folder would grow past "
                              "its cap of 1 MiB")
    assert (tmp_path / "root" / "one.bin").stat().st_size == 600 * 1024
    assert not (tmp_path / "root" / "two.bin").exists()
    view = ftp_live.view(backend)
    assert view.folder_mb == 1 and ("uploads over the folder cap", 1) in view.refused
    assert any(m.summary.startswith("552 STOR two.bin") for m in messages)
