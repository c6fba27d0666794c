"""HTTP keep-alive requests/s against the lab's HTTP server, three ways in one run.

    python -m tests.perf.http_bench [--seconds S] [--breakdown] [-o FILE]
    python -m tests.perf.http_bench --profile [FILE.prof]   where the Wire's time goes

The same aiohttp server (the lab's ``http`` kind: static site + notes API) is
loaded with GET /style.css and GET /api/notes/1, keep-alive, at 1 and at 50
connections:

- direct:   to the aiohttp server's own hidden port;
- wire:     through its Wire (the node's public port), capture on with the HTTP
            dissector and one bus subscriber (a bounded queue, like the GUI's bridge);
            server and Wire share one process and one loop, as in the lab;
- relay:    ``cslab relay --protocol http -q`` in its own process in front of the
            same server: a Wire with its capture, placed as mitmdump is (like for like);
- mitmdump: ``mitmdump --mode reverse:http://BACKEND -q`` in front of the same server
            (mitmproxy 11 from PyPI, in its own venv under .bench/, installed on
            first use; its row reads "unavailable: why" if that fails).

The server and its Wire run in a subprocess of their own (``serve`` below: an
Engine, as ``cslab serve http`` builds it); the load comes from ``wrk`` (Debian
package) or, when it is missing, from an aiohttp client loop in another
subprocess, labelled as such. Loopback only; the whole run is bounded (BOUND_S
with the defaults, not counting a first-use mitmproxy install); every subprocess
is ended by its PID, on errors too.

``--breakdown`` adds, in front of the same server and in its process, a bare
``raw`` Wire (relay + capture, no HTTP parsing), to split the Wire's cost between
relaying and dissecting, and a Wire whose HTTP dissector reads everything with
h11 (no fast path), to show what the fast path saves. ``--profile`` runs cProfile
inside the serve subprocess while wrk loads the Wire, and prints the self time by
part (dissector, h11, capture, Wire, aiohttp, asyncio) and the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
MITM_VENV = BENCH_DIR / "mitmproxy"
MITM_SPEC = "mitmproxy>=11,<12"
PROFILE_ENV = "CSLAB_HTTP_BENCH_PROFILE"

PATHS = ("/style.css", "/api/notes/1")
CONNS = (1, 50)
#: What each target is, for the table.
LABELS = {
    "direct": "direct (aiohttp)",
    "wire": "Wire, in the server's process",
    "relay": "Wire, own process (cslab relay)",
    "mitmdump": "mitmdump, own process",
    "raw wire": "raw Wire (no HTTP dissector), in-process",
    "h11 wire": "Wire with h11 only (no fast path), in-process",
}
#: Issue 10's goals: the Wire keeps 85 % of direct requests/s, and is 10x mitmdump
#: at 1 connection, 30x at 50.
DIRECT_GOAL = 0.85
MITM_GOAL = {1: 10.0, 50: 30.0}
BOUND_S = 150.0

Run = dict[str, Any]


# ---- the server subprocess ---------------------------------------------------------

async def serve(breakdown: bool) -> None:
    """Start the lab's HTTP server behind its Wire; print both addresses as JSON;
    run until SIGTERM/SIGINT or stdin closes."""
    import resource

    from lab.engine import Engine
    from lab.model import format_address

    _, most = resource.getrlimit(resource.RLIMIT_NOFILE)  # the scale run's 500 clients
    resource.setrlimit(resource.RLIMIT_NOFILE, (most, most))
    engine = Engine()
    bridge: deque[object] = deque(maxlen=100_000)  # the GUI bridge's queue, in effect
    engine.capture.subscribe(bridge.append)
    data = Path(os.environ.get("CSLAB_DATA_DIR") or tempfile.mkdtemp())
    info = await engine.add_server("http", port=0,
                                   options={"db": str(data / "notes.sqlite3")})
    backend = engine.server_backend(info.id)
    assert backend is not None
    addresses = {"wire": info.address, "direct": format_address(*backend.address)}
    own_wires: list[Any] = []  # not the engine's: stopped here
    if breakdown:
        from lab.dissect.http import HttpDissector
        from lab.wire import TcpWire

        raw = await engine.relay(("127.0.0.1", 0), backend.address, protocol="raw")
        addresses["raw wire"] = raw.public_address
        slow = TcpWire(engine.capture, listen=("127.0.0.1", 0), target=backend.address,
                       protocol="http", dissector=lambda: HttpDissector(fast=False))
        await slow.start()
        own_wires.append(slow)
        addresses["h11 wire"] = slow.public_address
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent went away
    profile_to = os.environ.get(PROFILE_ENV)
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
    print(json.dumps(addresses), flush=True)
    if profiler is not None:
        profiler.enable()
    try:
        await stop.wait()
    finally:
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)
        print(json.dumps({"messages": len(engine.capture.messages),
                          "connections": len(engine.capture.connections)}),
              file=sys.stderr, flush=True)
        for wire in own_wires:
            await wire.stop()
        await engine.shutdown()


# ---- the fallback load generator (a subprocess too) --------------------------------

async def load(url: str, conns: int, seconds: float) -> Run:
    """GET ``url`` over ``conns`` keep-alive connections for ``seconds``."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=conns)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal errors
            while (started := time.perf_counter()) < deadline:
                try:
                    async with session.get(url) as response:
                        await response.read()
                        if response.status >= 400:
                            errors += 1
                except (aiohttp.ClientError, OSError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conns)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"rps": len(latencies) / elapsed, "p50_ms": pct(0.50) if latencies else None,
            "p99_ms": pct(0.99) if latencies else None, "errors": errors,
            "requests": len(latencies)}


# ---- running loads -----------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(out: str) -> Run:
    """requests/s, p50/p99 (ms) and error counts from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise ValueError("no Requests/sec in wrk's output:\n" + out)
    run: Run = {"rps": float(rps[1])}
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        found = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        run[key] = _ms(found[1]) if found else None
    errors = 0
    if (bad := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)):
        errors += int(bad[1])
    if (sock := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                          r"timeout (\d+)", out)):
        errors += sum(int(n) for n in sock.groups())
    run["errors"] = errors
    if (total := re.search(r"(\d+) requests in", out)):
        run["requests"] = int(total[1])
    return run


def run_load(url: str, conns: int, seconds: float) -> Run:
    """One load run: wrk if installed, else the aiohttp client loop in a subprocess."""
    wrk = shutil.which("wrk")
    if wrk:
        threads = 1 if conns == 1 else 2
        cmd = [wrk, f"-t{threads}", f"-c{conns}", f"-d{seconds:g}s", "--latency", url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 15,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
        return parse_wrk(done.stdout)
    cmd = [sys.executable, "-m", "tests.perf.http_bench", "load", url, str(conns),
           str(seconds)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30,
                          check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-500:]}")
    run: Run = json.loads(done.stdout)
    return run


def load_tool() -> str:
    if shutil.which("wrk"):
        return "wrk (-t1 -c1 / -t2 -c50)"
    return "aiohttp client loop in a subprocess (wrk not found: apt-get install wrk)"


# ---- subprocesses ------------------------------------------------------------------

class Procs:
    """Every subprocess started here, ended by its PID on the way out."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, cmd: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        proc: subprocess.Popen[str] = subprocess.Popen(cmd, text=True, **kwargs)
        self.procs.append(proc)
        return proc

    def end(self, proc: subprocess.Popen[str], grace: float = 5.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def end_all(self) -> None:
        for proc in reversed(self.procs):
            self.end(proc)


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no line from PID {proc.pid} within {timeout:g} s")
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"PID {proc.pid} exited ({proc.wait()}) before saying where it is")
    return line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"not listening on port {port} after {timeout:g} s")


def fetch(address: str, path: str) -> tuple[int, int]:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, len(response.read())
    finally:
        conn.close()


def ensure_mitmdump() -> tuple[Path | None, str]:
    """mitmdump from .bench/mitmproxy, installed there on first use; or why not."""
    exe = MITM_VENV / "bin" / "mitmdump"
    if exe.exists():
        return exe, ""
    print(f"installing {MITM_SPEC} into {MITM_VENV.relative_to(ROOT)} (first use)…",
          file=sys.stderr, flush=True)
    python = shutil.which("python3") or sys.executable
    try:
        subprocess.run([python, "-m", "venv", str(MITM_VENV)], check=True,
                       capture_output=True, text=True, timeout=120)
        subprocess.run([str(MITM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--timeout", "30", "--retries", "1", MITM_SPEC], check=True,
                       capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or [str(exc)]
        return None, f"install failed: {tail[0][:160]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"install failed: {exc}"
    return (exe, "") if exe.exists() else (None, "install left no mitmdump")


@contextlib.contextmanager
def lab_server(procs: Procs, breakdown: bool, profile: str | None = None
               ) -> Iterator[dict[str, str]]:
    """The serve subprocess; yields its addresses (wire, direct[, raw wire])."""
    data = tempfile.mkdtemp(prefix="cslab-http-bench-")
    env = {**os.environ, "CSLAB_DATA_DIR": data, "PYTHONUNBUFFERED": "1"}
    if profile:
        env[PROFILE_ENV] = profile
    cmd = [sys.executable, "-m", "tests.perf.http_bench", "serve"]
    if breakdown:
        cmd.append("--breakdown")
    err = tempfile.TemporaryFile("w+")
    proc = procs.start(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=err)
    try:
        try:
            addresses: dict[str, str] = json.loads(read_line(proc, 20))
        except (TimeoutError, RuntimeError, ValueError) as exc:
            err.seek(0)
            raise RuntimeError(f"lab server: {exc}\n{err.read()[-2000:]}") from None
        yield addresses
    finally:
        procs.end(proc, grace=15 if profile else 5)
        err.seek(0)
        for line in err.read().splitlines()[-3:]:
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    addresses_stats = json.loads(line)
                    print(f"(lab server captured {addresses_stats['messages']:,} messages on "
                          f"{addresses_stats['connections']:,} connections)", file=sys.stderr)
        err.close()
        shutil.rmtree(data, ignore_errors=True)


def start_mitmdump(procs: Procs, backend: str) -> tuple[str | None, str]:
    """mitmdump in reverse mode before ``backend``; (its address, "") or (None, why)."""
    exe, why = ensure_mitmdump()
    if exe is None:
        return None, why
    port = free_port()
    confdir = BENCH_DIR / "mitmproxy-conf"
    cmd = [str(exe), "--mode", f"reverse:http://{backend}", "--listen-host", "127.0.0.1",
           "--listen-port", str(port), "-q", "--set", f"confdir={confdir}"]
    proc = procs.start(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, 20)
    except (TimeoutError, RuntimeError) as exc:
        procs.end(proc)
        return None, f"mitmdump did not start: {exc}"
    return f"127.0.0.1:{port}", ""


def start_relay(procs: Procs, backend: str, protocol: str = "http") -> tuple[str | None, str]:
    """``cslab relay -q`` in its own process before ``backend``; (address, "") or (None, why)."""
    cmd = [sys.executable, "-m", "lab.cli", "relay", "--listen", "127.0.0.1:0",
           "--to", backend, "--protocol", protocol, "-q"]
    proc = procs.start(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    try:
        line = read_line(proc, 20)
    except (TimeoutError, RuntimeError) as exc:
        procs.end(proc)
        return None, f"cslab relay did not start: {exc}"
    if not line.startswith("listening on "):
        procs.end(proc)
        return None, f"cslab relay said {line.strip()!r}"
    return line.split()[-1], ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _loaded(url: str, conns: int, seconds: float, pids: list[int]) -> Run:
    """One load run, with the CPU time each of ``pids`` spent per request (µs)."""
    before = [cpu_seconds(pid) for pid in pids]
    run = run_load(url, conns, seconds)
    spent = [cpu_seconds(pid) - was for pid, was in zip(pids, before, strict=True)]
    if run.get("requests"):
        run["cpu_us_per_request"] = [t / run["requests"] * 1e6 for t in spent]
    return run


# ---- the benchmark -----------------------------------------------------------------

def measure(seconds: float, breakdown: bool, bound: float = BOUND_S) -> dict[str, Any]:
    started = time.monotonic()
    procs = Procs()
    try:
        with lab_server(procs, breakdown) as addresses:
            targets: dict[str, str | None] = {"direct": addresses["direct"],
                                              "wire": addresses["wire"]}
            serve = procs.procs[0].pid
            #: whose CPU time each target's runs count: the serving process, and the relay's
            pids = dict.fromkeys(targets, [serve])
            unavailable: dict[str, str] = {}
            targets["relay"], unavailable["relay"] = start_relay(procs, addresses["direct"])
            pids["relay"] = [serve, procs.procs[-1].pid]
            targets["mitmdump"], unavailable["mitmdump"] = start_mitmdump(
                procs, addresses["direct"])
            pids["mitmdump"] = [serve, procs.procs[-1].pid]
            if breakdown:
                targets["raw wire"] = addresses["raw wire"]
                targets["h11 wire"] = addresses["h11 wire"]
                pids["raw wire"] = pids["h11 wire"] = [serve]
            checks: dict[str, dict[str, list[int]]] = {}
            for name, address in targets.items():
                if address is not None:
                    checks[name] = {p: list(fetch(address, p)) for p in PATHS}
            rows: list[dict[str, Any]] = []
            for path in PATHS:
                for conns in CONNS:
                    row: dict[str, Any] = {"path": path, "conns": conns}
                    for name, address in targets.items():
                        if address is None:
                            row[name] = {"unavailable": unavailable[name]}
                        elif time.monotonic() - started + seconds + 2 > bound:
                            row[name] = {"unavailable": f"skipped: over the {bound:g} s bound"}
                        else:
                            row[name] = _loaded(f"http://{address}{path}", conns, seconds,
                                                pids[name])
                    rows.append(row)
    finally:
        procs.end_all()
    return {"rows": rows, "checks": checks, "addresses": targets, "tool": load_tool(),
            "seconds": seconds, "elapsed_s": time.monotonic() - started,
            "cpus": os.cpu_count(), "python": platform.python_version()}


def _rps(run: dict[str, Any]) -> float | None:
    value = run.get("rps")
    return None if value is None else float(value)


def _ms_cell(run: dict[str, Any], key: str) -> str:
    value = run.get(key)
    return "-" if value is None else f"{value:.2f}"


def _goals(row: dict[str, Any], name: str) -> dict[str, Any]:
    """How a Wire row fares against issue 10's goals."""
    d, w, m = _rps(row["direct"]), _rps(row[name]), _rps(row.get("mitmdump", {}))
    ratio = w / d if w and d else None
    times = w / m if w and m else None
    want = MITM_GOAL[row["conns"]]
    return {"wire_vs_direct": ratio, "wire_vs_mitmdump": times,
            "direct_met": ratio is not None and ratio >= DIRECT_GOAL,
            "mitmdump_goal": want,
            "mitmdump_met": None if times is None else times >= want,
            "direct_vs_mitmdump": d / m if d and m else None}


def _relaying_cpu(row: dict[str, Any], name: str) -> str:
    """CPU µs per request spent on relaying (see the table's note)."""
    cpu = row[name].get("cpu_us_per_request")
    base = row["direct"].get("cpu_us_per_request")
    if not cpu or name == "direct":
        return ""
    if len(cpu) > 1:
        return f"{cpu[1]:.0f}"
    return f"{cpu[0] - base[0]:.0f}" if base else "?"


def table(res: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The printed table (one line per path, connections and target), and the goals
    (met or not) per Wire row."""
    head = ["path", "conns", "target", "req/s", "÷direct", "×mitmdump", "p50 ms", "p99 ms",
            "errors", "relaying CPU µs/req", f"goal: >={DIRECT_GOAL:.0%} direct, >=N× mitmdump"]
    cells: list[list[str]] = [head]
    goals: dict[str, Any] = {}
    for row in res["rows"]:
        d, m = _rps(row["direct"]), _rps(row.get("mitmdump", {}))
        for name in res["addresses"]:
            run = row[name]
            r = _rps(run)
            if r is None:
                cells.append([row["path"], str(row["conns"]), LABELS[name],
                              f"unavailable: {run.get('unavailable', '?')}"] + [""] * 7)
                continue
            goal = ""
            if name in ("wire", "relay"):
                g = goals[f"{row['path']} c{row['conns']} {name}"] = _goals(row, name)
                times = g["wire_vs_mitmdump"]
                goal = ("met" if g["direct_met"] else "NO") + "; " + (
                    "-" if times is None else ("met" if g["mitmdump_met"] else "NO")
                ) + f" (≥{g['mitmdump_goal']:g}×)"
            cells.append([row["path"], str(row["conns"]), LABELS[name], f"{r:,.0f}",
                          f"{r / d:.0%}" if d else "-", f"{r / m:.1f}×" if m else "-",
                          _ms_cell(run, "p50_ms"), _ms_cell(run, "p99_ms"),
                          str(run.get("errors", "?")), _relaying_cpu(row, name), goal])
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip()
             for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append("(×mitmdump of the direct row is the most any relay in front of this "
                 "server could reach; relaying CPU: what the relay's own process spent per\n"
                 " request, or for an in-process Wire what the serving process spent more than\n"
                 " direct: unlike req/s, it does not depend on how 2 cores are shared)")
    lines.append(f"(load: {res['tool']}, {res['seconds']:g} s per run; {res['cpus']} CPUs "
                 f"shared by load, server and relays; {res['elapsed_s']:.0f} s)")
    return "\n".join(lines), goals


def merge_results(path: Path, http: dict[str, Any]) -> None:
    """Put the HTTP figures under "http" in the results file, keeping what is there."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    results["http"] = http
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def run_bench(seconds: float, breakdown: bool) -> tuple[str, dict[str, Any]]:
    res = measure(seconds, breakdown)
    text, goals = table(res)
    res["goals"] = goals
    res["goals_met"] = all(g["direct_met"] and g["mitmdump_met"] is not False
                           for g in goals.values())
    return text, res


# ---- profiling -----------------------------------------------------------------------

PARTS = (
    ("HTTP dissector (lab/dissect)", "/lab/dissect/"),
    ("h11", "/h11/"),
    ("capture (lab/capture.py)", "/lab/capture.py"),
    ("Wire (lab/wire/)", "/lab/wire/"),
    ("lab model/other lab", "/lab/"),
    ("aiohttp", "/aiohttp/"),
    ("multidict/yarl", "/multidict/"),
    ("multidict/yarl", "/yarl/"),
    ("asyncio", "/asyncio/"),
    ("selectors", "/selectors.py"),
    ("dataclasses", "/dataclasses.py"),
)


def _part(filename: str, func: str) -> str:
    for name, marker in PARTS:
        if marker in filename:
            return name
    if filename == "~":
        # C functions: socket send/recv and the like land here
        if any(word in func for word in ("send", "recv", "poll", "select")):
            return "syscalls (send/recv/epoll)"
        return "builtins (C)"
    return "other Python"


def profile(seconds: float, out: str) -> int:
    """Load the Wire with wrk while cProfile runs in the serve subprocess; summarise."""
    import pstats

    procs = Procs()
    runs: list[str] = []
    try:
        with lab_server(procs, breakdown=False, profile=out) as addresses:
            for path in PATHS:
                run = run_load(f"http://{addresses['wire']}{path}", 1, seconds)
                runs.append(f"{path}: {run['rps']:,.0f} req/s through the Wire under cProfile")
    finally:
        procs.end_all()
    stats = pstats.Stats(out)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    parts: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        key = _part(filename, func)
        parts[key] = parts.get(key, 0.0) + tottime
    print("\n".join(runs))
    print(f"\nself time by part (cProfile, {total:.2f} s in the serve process):")
    for name, secs in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {name:32} {secs:7.2f} s  {secs / total:6.1%}")
    print("\ncumulative time, lab and h11 functions over 1 %:")
    for (filename, line, func), (_cc, nc, _tt, cumtime, _c) in sorted(
            raw.items(), key=lambda kv: -kv[1][3]):
        name = f"{Path(filename).parent.name}/{Path(filename).name}:{line}({func})"
        if "/lab/" in filename or "/h11/" in filename:
            if cumtime / total > 0.01:
                print(f"  {cumtime:7.2f} s {cumtime / total:6.1%}  calls {nc:>9,}  {name}")
    print("\ntop 25 by self time:")
    stats.sort_stats("tottime").print_stats(25)
    return 0


# ---- command line --------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        asyncio.run(serve("--breakdown" in argv))
        return 0
    if argv[:1] == ["load"]:
        url, conns, seconds = argv[1], int(argv[2]), float(argv[3])
        print(json.dumps(asyncio.run(load(url, conns, seconds))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m tests.perf.http_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="per load run (5)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also a bare raw Wire (relay + capture, no HTTP parsing)")
    parser.add_argument("--profile", nargs="?", const=str(BENCH_DIR / "wire.prof"),
                        metavar="FILE.prof", help="profile the serve process under load")
    parser.add_argument("-o", "--output", default="bench-results.json")
    args = parser.parse_args(argv)
    if args.profile:
        BENCH_DIR.mkdir(exist_ok=True)
        return profile(args.seconds, args.profile)
    text, res = run_bench(args.seconds, args.breakdown)
    print(text)
    merge_results(Path(args.output), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
