"""A full disk under ``--record`` and ``--capture``: one clear line, the lab goes on
serving, recording resumes when space returns, and the file still loads.

The disk is a real 2 MiB tmpfs (mounting needs root: without it the tests are
skipped, saying why). A filler file takes half of it; the recording fills the rest;
deleting the filler gives the space back.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.export import load_capture
from tests.interop.test_cli import ENV, ROOT

FULL = "the disk is full"
DEADLINE = 30.0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.strip() or 'not root'}")
    try:
        (disk / "filler").write_bytes(b"\0" * (1024 * 1024))
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


class Lab:
    """``cslab serve tcp-echo -q ARGS``; its stderr lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lab.cli", "serve", "tcp-echo", "--port", "0", "-q", *args],
            cwd=ROOT, env=ENV, text=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.errors: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._pump, args=(self.proc.stderr,), daemon=True).start()
        first = self.proc.stdout.readline()
        assert first.startswith("listening on "), (first, self.proc.stderr)
        self.port = int(first.rsplit(":", 1)[1])
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sent = 0

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.errors.append(line.rstrip("\n"))

    def echo(self, text: bytes) -> None:
        self.sock.sendall(text)
        answer = b""
        while len(answer) < len(text):
            chunk = self.sock.recv(65536)
            assert chunk, "the lab closed the connection"
            answer += chunk
        assert answer == text  # the lab goes on serving
        self.sent += 1

    def load_until(self, done: Callable[[], bool]) -> None:
        """Echo 500-byte lines until ``done()``, within DEADLINE."""
        deadline = time.monotonic() + DEADLINE
        while not done():
            assert time.monotonic() < deadline, f"waited in vain; stderr: {self.errors}"
            self.echo(b"%06d " % self.sent + b"x" * 493 + b"\n")

    def said(self, pattern: str) -> list[str]:
        return [line for line in self.errors if re.search(pattern, line)]

    def stop(self) -> int:
        self.sock.close()
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(15)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _fill_and_free(lab: Lab, disk: Path, again: str) -> int:
    """Fill the disk, check the lab serves on, free space, wait for ``again``; the lost
    count the lab gave."""
    lab.load_until(lambda: bool(lab.said(FULL)))
    for _ in range(200):  # full: the lab still echoes, and says nothing more
        lab.echo(b"while full\n")
    assert len(lab.said(FULL)) == 1, lab.errors
    (disk / "filler").unlink()
    lab.load_until(lambda: bool(lab.said(again)))
    lab.echo(b"after the disk had room again\n")
    lost = re.search(r"(\d+) messages captured while the disk was full", lab.said(again)[0])
    assert lost is not None and int(lost.group(1)) >= 400  # 200 echoes, both ways
    return int(lost.group(1))


def once_a_pause(lab: Lab, full: str, again: str) -> bool:
    """The disk-full line is said once a pause (not once a message): each one is the
    exact ``full`` line, and two never come without ``again`` between them (the disk
    may fill once more as the file is closed: that is a pause of its own)."""
    said = [line for line in lab.errors if FULL in line or again in line]
    fulls = [line for line in said if FULL in line]
    doubled = any(FULL in a and FULL in b for a, b in zip(said, said[1:], strict=False))
    assert fulls and all(line == full for line in fulls) and not doubled, lab.errors
    return True


def _exported(path: Path, tmp_path: Path) -> None:
    for fmt in ("jsonl", "pcapng"):
        done = subprocess.run([sys.executable, "-m", "lab.cli", "export", str(path), "--format",
                               fmt, "-o", str(tmp_path / f"out.{fmt}")], cwd=ROOT, env=ENV,
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr


def test_record_on_a_full_disk_pauses_serves_and_resumes(small_disk: Path,
                                                         tmp_path: Path) -> None:
    path = small_disk / "day.cslab"
    lab = Lab("--record", str(path))
    try:
        lost = _fill_and_free(lab, small_disk, "recording again")
        assert lab.stop() == 0
    finally:
        lab.kill()
    assert once_a_pause(lab, "cslab: the disk is full: recording paused; the lab goes on "
                             "serving", "recording again")
    assert not lab.said("Traceback|Error"), lab.errors
    wal = Path(f"{path}-wal").exists()  # the disk may have had no room to fold it in
    assert bool(lab.said("keep the two files together")) == wal, lab.errors
    stored = load_capture(path)  # the lab's own reader
    recorded = int(stored.meta["lost_messages"])
    if len(lab.said(FULL)) == 1:  # one pause: the file says what the lab said
        assert recorded == lost
    else:  # the small disk filled again as the file was closed: that pause counts too
        assert recorded > lost
    assert f"{recorded} messages captured while the disk was full" in stored.meta["lost_note"]
    raws = [m.raw for m in stored.messages]
    assert b"while full\n" not in raws and raws.count(b"after the disk had room again\n") == 2
    assert list(stored.connections) == ["c1"]
    _exported(path, tmp_path)


def test_capture_on_a_full_disk_pauses_serves_and_resumes(small_disk: Path,
                                                          tmp_path: Path) -> None:
    path = small_disk / "day.jsonl"
    lab = Lab("--capture", str(path))
    try:
        lost = _fill_and_free(lab, small_disk, "capturing again")
        assert lab.stop() == 0
    finally:
        lab.kill()
    assert once_a_pause(lab, "cslab: the disk is full: capture paused; the lab goes on "
                             "serving", "capturing again")
    assert not lab.said("Traceback|Error"), lab.errors
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]  # never a torn line
    notes = [r for r in records if r["type"] == "lost"]
    assert [n["messages"] for n in notes] == [lost]
    assert f"{lost} messages captured while the disk was full" in notes[0]["note"]
    raws = [m.raw for m in load_capture(path).messages]
    assert b"while full\n" not in raws and raws.count(b"after the disk had room again\n") == 2
    assert records[-1]["type"] == "close"
    _exported(path, tmp_path)
