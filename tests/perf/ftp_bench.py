"""FTP download throughput: the lab's FTP server direct vs through its Wire.

    python -m tests.perf.ftp_bench [--megabytes MB] [--rounds N]

A file of MB megabytes (200 by default) is generated in a temporary folder and
served by the lab's ``ftp`` server kind behind its Wire, in a subprocess of its own
(``serve`` below: an Engine, as ``cslab serve ftp`` builds it). ftplib downloads it
in passive mode, discarding the bytes, alternately from the backend's own port
(direct) and through the Wire (control and data connections both relayed and
captured, the data connections dissected as ftp-data); the best of N rounds is
kept. The serving process's RSS is sampled every 50 ms during the Wire runs
(start / peak / end). Loopback only; bounded (the whole run stops after
``BOUND_S``); the subprocess is ended by its PID and the file removed, on errors
too.
"""

from __future__ import annotations

import argparse
import asyncio
import ftplib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 55.0
#: Memory should stay flat while the file crosses the Wire (as the bulk goal of
#: tests/perf/__main__.py); throughput is reported, with no goal of its own.
FLAT_MIB = 64.0


async def serve(root: str) -> None:
    """The lab's FTP server on ``root`` behind its Wire; print both addresses as JSON;
    run until SIGTERM/SIGINT or stdin closes."""
    from lab.engine import Engine
    from lab.model import format_address

    engine = Engine()
    info = await engine.add_server("ftp", port=0, options={"root": root})
    backend = engine.server_backend(info.id)
    assert backend is not None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_reader(sys.stdin.fileno(), stop.set)
    print(json.dumps({"wire": info.address, "direct": format_address(*backend.address)}),
          flush=True)
    try:
        await stop.wait()
    finally:
        await engine.shutdown()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def download(address: str, name: str, size: int, deadline: float) -> float:
    """One passive RETR with ftplib; MB/s (bytes counted, not kept)."""
    host, port = address.rsplit(":", 1)
    got = 0

    def block(data: bytes) -> None:
        nonlocal got
        got += len(data)
        if time.monotonic() > deadline:
            raise TimeoutError("ftp bench: over its time bound")

    with ftplib.FTP() as ftp:
        ftp.connect(host, int(port), timeout=20)
        ftp.login("student", "lab")
        ftp.set_pasv(True)
        started = time.perf_counter()
        ftp.retrbinary(f"RETR {name}", block, blocksize=256 * 1024)
        elapsed = time.perf_counter() - started
    if got != size:
        raise RuntimeError(f"ftp bench: got {got} bytes of {size}")
    return size / 1e6 / elapsed


def measure(megabytes: int, rounds: int) -> dict[str, Any]:
    deadline = time.monotonic() + BOUND_S
    size = megabytes * 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="cslab-ftp-bench-"))
    proc: subprocess.Popen[str] | None = None
    try:
        with (folder / "big.bin").open("wb") as file:
            block = os.urandom(1_000_000)
            for _ in range(megabytes):
                file.write(block)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.perf.ftp_bench", "serve", str(folder)],
            cwd=ROOT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stdout is not None
        addresses = json.loads(proc.stdout.readline())
        best = {"direct": 0.0, "wire": 0.0}
        samples: list[float] = []
        for _ in range(rounds):
            best["direct"] = max(best["direct"],
                                 download(addresses["direct"], "big.bin", size, deadline))
            done = threading.Event()
            pid = proc.pid

            def sample(done: threading.Event, pid: int) -> None:
                while not done.wait(0.05):
                    samples.append(rss_mib(pid))

            samples.append(rss_mib(pid))
            sampler = threading.Thread(target=sample, args=(done, pid), daemon=True)
            sampler.start()
            try:
                best["wire"] = max(best["wire"],
                                   download(addresses["wire"], "big.bin", size, deadline))
            finally:
                done.set()
                sampler.join()
            samples.append(rss_mib(pid))
        return {"mb_per_s": best, "ratio": best["wire"] / best["direct"],
                "rss_mib": {"start": samples[0], "peak": max(samples), "end": samples[-1]},
                "megabytes": megabytes, "rounds": rounds}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def table(res: dict[str, Any]) -> str:
    mb, rss = res["mb_per_s"], res["rss_mib"]
    growth = rss["peak"] - rss["start"]
    rows = [
        ("metric", "direct", "wire", "ratio", "goal", "met"),
        (f"FTP RETR {res['megabytes']} MB, MB/s", f"{mb['direct']:,.0f}", f"{mb['wire']:,.0f}",
         f"{res['ratio']:.0%}", "(no goal)", ""),
        ("server RSS MiB (wire run)", "",
         f"{rss['start']:.0f} / {rss['peak']:.0f} / {rss['end']:.0f}", f"+{growth:.0f}",
         f"peak-start < {FLAT_MIB:.0f}", "yes" if growth < FLAT_MIB else "NO"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append("(ftplib, passive, best of "
                 f"{res['rounds']}; RSS of the serving process: start / peak / end)")
    return "\n".join(lines)


def run_bench(megabytes: int = 200, rounds: int = 3) -> str:
    """Measure and return the table (what ``make bench`` prints)."""
    return table(measure(megabytes, rounds))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        asyncio.run(serve(argv[1]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m tests.perf.ftp_bench",
                                     description=__doc__)
    parser.add_argument("--megabytes", type=int, default=200, help="file size (200)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations, best kept (3)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(run_bench(args.megabytes, args.rounds))
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
