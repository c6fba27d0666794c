"""One ``cslab serve KIND`` subprocess: where it listens, its memory, its capture."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
#: Kinds whose ``--root`` is a folder the battery makes (site, mail folder, served folder).
ROOTED = {"http", "smtp", "pop3", "ftp"}

Record = dict[str, Any]


class Served:
    """``cslab serve KIND --port 0`` with a JSON Lines capture and a connection cap.

    stdout (a line per message) goes to a file, so a chatty server never blocks on a
    pipe; ``records()`` reads the capture as it grows."""

    def __init__(self, kind: str, folder: Path, max_total: int,
                 files: int | None = None) -> None:
        """``max_total``: the Wire's cap (0: none); ``files``: the process's open-file
        limit (soft and hard), to see what happens when it runs out."""
        self.kind = kind
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.capture_path = folder / "capture.jsonl"
        args = [sys.executable, "-m", "lab.cli", "serve", kind, "--host", HOST, "--port", "0",
                "--capture", str(self.capture_path), "--max-total", str(max_total)]
        if kind in ROOTED:
            args += ["--root", str(self._root())]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(folder / "data")}
        self._out = open(folder / "stdout.txt", "wb")  # noqa: SIM115 (closed in stop)
        self._err = open(folder / "stderr.txt", "wb")  # noqa: SIM115
        def limit_files() -> None:
            if files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err,
                                     preexec_fn=limit_files)
        self.port = self._listening()
        self._records: list[Record] = []
        self._offset = 0

    def _root(self) -> Path:
        root = self.folder / "root"
        root.mkdir(exist_ok=True)
        if self.kind == "http":
            (root / "index.html").write_text("<h1>hostile battery</h1>\n", encoding="utf-8")
        elif self.kind == "ftp":
            (root / "hello.txt").write_text("hello\n", encoding="utf-8")
        return root

    def _listening(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        path = self.folder / "stdout.txt"
        while time.monotonic() < deadline:
            first = path.read_text(encoding="utf-8", errors="replace").partition("\n")
            if first[1] and first[0].startswith("listening on "):
                return int(first[0].rpartition(":")[2])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"cslab serve {self.kind} did not start: {self.stderr()[-2000:]}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kb(self) -> int:
        """The serving process's resident memory (VmRSS), in KiB."""
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def records(self) -> list[Record]:
        """Every capture record so far (complete lines only)."""
        if self.capture_path.exists():
            with open(self.capture_path, "rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
            cut = data.rfind(b"\n") + 1
            self._offset += cut
            self._records += [json.loads(line) for line in data[:cut].splitlines()]
        return self._records

    def quiet(self, most: float = 10.0) -> bool:
        """Wait until every connection in the capture has closed; whether they have."""
        deadline = time.monotonic() + most
        while time.monotonic() < deadline:
            records = self.records()
            if sum(r["type"] == "open" for r in records) == sum(
                    r["type"] == "close" for r in records):
                return True
            time.sleep(0.05)
        return False

    def stderr(self) -> str:
        path = self.folder / "stderr.txt"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not end in 10 s; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()
        return self.proc.returncode
