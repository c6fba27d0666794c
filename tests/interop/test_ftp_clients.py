"""cslab serve ftp as a real process, talked to by Python's ftplib (passive and active)
and by curl's ftp:// (list, download, upload); files on disk match byte for byte."""

from __future__ import annotations

import ftplib
import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.test_cli import port_is_free

ROOT = Path(__file__).resolve().parents[2]
BLOB = bytes(range(256)) * 1000 + b"end"  # 256,003 bytes, every byte value

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@dataclass
class Served:
    proc: subprocess.Popen[str]
    lines: queue.Queue[str]
    root: Path
    port: int = 0

    def client(self, passive: bool = True) -> ftplib.FTP:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", self.port, timeout=5)
        ftp.login("u", "p")
        ftp.set_pasv(passive)
        return ftp

    def curl(self, *args: str, path: str = "") -> bytes:
        url = f"ftp://u:p@127.0.0.1:{self.port}/{path}"
        done = subprocess.run(["curl", "-sS", "--max-time", "10", *args, url],
                              capture_output=True, timeout=15)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("ftp")
    root = tmp / "root"
    (root / "sub").mkdir(parents=True)
    (root / "blob.bin").write_bytes(BLOB)
    (root / "sub" / "note.txt").write_text("a note\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CSLAB_DATA_DIR": str(tmp / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "serve", "ftp", "--port", "0", "--root", str(root),
         "--user", "u", "--password", "p"],
        cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    one = Served(proc, queue.Queue(), root)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            one.lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = one.lines.get(timeout=10)
        assert first.startswith("listening on 127.0.0.1:"), first
        one.port = int(first.rpartition(":")[2])
        yield one
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert port_is_free(one.port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_ftplib_lists_downloads_and_uploads(served: Served, passive: bool) -> None:
    ftp = served.client(passive)
    assert sorted(ftp.nlst()) == sorted(p.name for p in served.root.iterdir())
    out = io.BytesIO()
    ftp.retrbinary("RETR blob.bin", out.write)
    assert out.getvalue() == BLOB
    name = f"ftplib-{'pasv' if passive else 'port'}.bin"
    ftp.storbinary(f"STOR {name}", io.BytesIO(BLOB[::-1]))
    assert (served.root / name).read_bytes() == BLOB[::-1]
    assert ftp.quit().startswith("221")
    seen: list[str] = []
    while not served.lines.empty():
        seen.append(served.lines.get_nowait())
    assert any(line.endswith("USER u") for line in seen)
    assert any(("227 " if passive else "PORT 127,0,0,1,") in line for line in seen)


@needs_curl
def test_curl_lists_downloads_and_uploads(served: Served, tmp_path: Path) -> None:
    listing = served.curl().decode()
    assert " blob.bin" in listing and " sub" in listing
    assert served.curl("--list-only", path="sub/").split() == [b"note.txt"]
    got = tmp_path / "got.bin"
    served.curl("-o", str(got), path="blob.bin")
    assert got.read_bytes() == BLOB
    active = tmp_path / "active.bin"
    served.curl("-P", "127.0.0.1", "-o", str(active), path="blob.bin")  # PORT/EPRT
    assert active.read_bytes() == BLOB
    upload = tmp_path / "up.bin"
    upload.write_bytes(BLOB[1:] + b"!")
    served.curl("-T", str(upload), path="sub/curl-up.bin")
    assert (served.root / "sub" / "curl-up.bin").read_bytes() == upload.read_bytes()
