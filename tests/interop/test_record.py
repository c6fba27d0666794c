"""--record FILE.cslab on cslab serve and relay: the file survives kill -9, and
cslab export reads it."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from lab.store import load
from tests.interop.test_cli import Cslab, echo_server, talk  # noqa: F401 (a fixture)
from tests.interop.test_export import cslab


def test_kill_9_while_recording_keeps_all_but_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "f.cslab"
    lab = Cslab("serve", "tcp-echo", "--port", "0", "--record", str(path))
    sent: list[tuple[float, bytes]] = []
    try:
        _, port = lab.listening()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for n in range(50):  # 50 messages over about 2 s
                line = f"message {n:02d}\n".encode()
                sock.sendall(line)
                answer = b""
                while len(answer) < len(line):
                    answer += sock.recv(100)
                assert answer == line
                sent.append((time.monotonic(), line))
                time.sleep(0.04)
            os.kill(lab.proc.pid, signal.SIGKILL)
            killed = time.monotonic()
        assert lab.proc.wait(5) == -signal.SIGKILL
    finally:
        lab.kill()
    stored = load(path)  # opens as it was left: the WAL beside it
    kept = {m.raw for m in stored.messages if m.sender.value == "client"}
    echoed = {m.raw for m in stored.messages if m.sender.value == "server"}
    due = [line for at, line in sent if at <= killed - 1.0]
    assert len(due) >= 20
    assert set(due) <= kept and set(due) <= echoed
    assert list(stored.connections) == ["c1"] and stored.meta["format"] == "cslab"
    ids = [m.id for m in stored.messages]
    assert ids == list(range(1, len(ids) + 1))  # nothing missing in the middle


def test_relay_records_and_export_reads_the_file(tmp_path: Path, echo_server: int) -> None:  # noqa: F811
    path = tmp_path / "relay.cslab"
    lab = Cslab("relay", "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{echo_server}",
                "--record", str(path))
    try:
        _, port = lab.listening()
        assert talk(port, b"ping\n")[0] == b"ping\n"
        lab.line(), lab.line()
        assert lab.terminate() == 0
    finally:
        lab.kill()
    assert not Path(f"{path}-wal").exists()  # stopped cleanly: one file
    assert [m.raw for m in load(path).messages] == [b"ping\n", b"ping\n"]
    done = cslab("export", str(path), "--format", "jsonl", "-o", str(tmp_path / "out.jsonl"))
    assert done.returncode == 0, done.stderr
    assert "wrote 4 records" in done.stdout  # open, two messages, close
    done = cslab("export", str(path), "--format", "pcapng", "-o", str(tmp_path / "out.pcapng"))
    assert done.returncode == 0 and "wrote 8 packets" in done.stdout, done.stderr
    again = Cslab("relay", "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{echo_server}",
                  "--record", str(path))
    try:
        assert again.proc.wait(10) != 0
        assert "exists already" in again.stderr()
    finally:
        again.kill()
