"""Scale: 500 concurrent HTTP clients through the Wire for 20 s.

    python -m tests.perf.scale_bench [--clients N] [--seconds S] [-o FILE]

The lab's HTTP server behind its Wire runs in a subprocess (as in
tests/perf/http_bench.py); ``wrk -t2 -cN`` keeps N keep-alive connections busy
with GET /api/notes/1 through the Wire (or, without wrk, the aiohttp client loop
of http_bench in a subprocess, labelled as such). Goal (issue 10): zero errors
(non-2xx/3xx, connect/read/write errors, timeouts); p50/p99 reported. Loopback
only; bounded (S + 40 s); every subprocess is ended by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.perf import http_bench as hb

CLIENTS = 500
SECONDS = 20.0
PATH = "/api/notes/1"
#: wrk's per-request timeout: a reply slower than this counts as an error.
TIMEOUT_S = 10


def run_wrk(url: str, clients: int, seconds: float) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return hb.run_load(url, clients, seconds)
    cmd = [wrk, "-t2", f"-c{clients}", f"-d{seconds:g}s", f"--timeout={TIMEOUT_S}s",
           "--latency", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return hb.parse_wrk(done.stdout)


def measure(clients: int, seconds: float) -> dict[str, Any]:
    started = time.monotonic()
    procs = hb.Procs()
    try:
        with hb.lab_server(procs, breakdown=False) as addresses:
            check = hb.fetch(addresses["wire"], PATH)
            run = run_wrk(f"http://{addresses['wire']}{PATH}", clients, seconds)
            after = hb.fetch(addresses["wire"], PATH)  # the Wire still serves afterwards
    finally:
        procs.end_all()
    tool = (f"wrk -t2 -c{clients} --timeout={TIMEOUT_S}s" if shutil.which("wrk")
            else "aiohttp client loop in a subprocess (wrk not found)")
    return {"clients": clients, "seconds": seconds, "path": PATH, "run": run,
            "check_before": list(check), "check_after": list(after), "tool": tool,
            "goal": "zero errors", "goals_met": run.get("errors") == 0 and after[0] == 200,
            "elapsed_s": time.monotonic() - started, "cpus": os.cpu_count(),
            "python": platform.python_version()}


def table(res: dict[str, Any]) -> str:
    run = res["run"]
    head = ("clients", "seconds", "requests", "req/s", "p50 ms", "p99 ms", "errors",
            "after: GET", "goal: zero errors")
    row = (str(res["clients"]), f"{res['seconds']:g}", f"{run.get('requests', 0):,}",
           f"{run['rps']:,.0f}", hb._ms_cell(run, "p50_ms"), hb._ms_cell(run, "p99_ms"),
           str(run.get("errors", "?")), str(res["check_after"][0]),
           "met" if res["goals_met"] else "NO")
    widths = [max(len(a), len(b)) for a, b in zip(head, row, strict=True)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
             for cells in (head, row)]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append(f"(HTTP {res['path']} through the Wire, server and Wire in one process; "
                 f"load: {res['tool']}; {res['cpus']} CPUs; {res['elapsed_s']:.0f} s)")
    return "\n".join(lines)


def run_bench(clients: int = CLIENTS, seconds: float = SECONDS) -> tuple[str, dict[str, Any]]:
    res = measure(clients, seconds)
    return table(res), res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.scale_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=CLIENTS, help=f"({CLIENTS})")
    parser.add_argument("--seconds", type=float, default=SECONDS, help=f"({SECONDS:g})")
    parser.add_argument("-o", "--output", default="bench-results.json")
    args = parser.parse_args(argv)
    text, res = run_bench(args.clients, args.seconds)
    print(text)
    path = Path(args.output)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    results["scale"] = res
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if res["goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
