"""A school day in minutes: memory and loop stalls over millions of captured messages.

    python -m tests.perf.day_bench [--messages N] [--gui-messages N] [--no-engine] [--no-gui]
                                   [--max-seconds S] [--slice-seconds S] [-o FILE.json]
    python -m tests.perf --only day [--day-messages N] [--day-gui-messages N]
    make bench                      (N = 1,000,000 and 300,000 for the window)

Issue 17's goals, measured in a subprocess of its own for each part (so its memory is
its own), loopback only:

- engine: the lab's HTTP server behind its Wire, built as ``cslab serve http -q``
  builds it (lab/cli.py cmd_serve: an Engine, no printer, no capture or record file),
  on this process's loop;
- gui: the same server added to the engine that ``cslab gui`` runs on its own thread
  (ui/engine_thread.py), with the EngineBridge as the app sets it and the MainWindow
  shown on Qt's offscreen platform, so the capture is shown as it grows.

The load is ``wrk -t2 -c20`` (keep-alive) against GET /api/notes/1 in slices of a few
seconds (each bounded, each wrk ended by its PID), until the capture holds N messages
(``len(engine.capture.messages)``, an HTTP exchange being two) or ``--max-seconds``
(20 min) has passed. Measured:

- the longest stall of a 10 ms heartbeat on the engine loop (time between its
  wake-ups less 10 ms): over the run, per tenth of N and per slice (goal < 100 ms);
  for the window, the same of a 10 ms QTimer on the Qt thread;
- the resident set (VmRSS from /proc/self/status) when the capture reaches 10,000
  messages, every second and at the end: the goal is at most +150 MB over 5 M
  messages (``--messages 5000000``), so at a smaller N the growth per message is the
  figure to read;
- messages/s, overall and per slice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PATH = "/api/notes/1"
FIRST = 10_000  # RSS is measured from here: the lab's own start-up is not the question
MESSAGES = 1_000_000
GUI_MESSAGES = 300_000
GOAL_MESSAGES = 5_000_000
MAX_SECONDS = 1200.0
SLICE_SECONDS = 5
RSS_GROWTH_GOAL_MB = 150.0
STALL_GOAL_MS = 100.0
BEAT = 0.010


def status_mb(key: str = "VmRSS") -> float:
    """``key`` (VmRSS, VmHWM) of this process from /proc/self/status, in MB (MiB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class Stalls:
    """The longest stall of one 10 ms heartbeat: over the run, per tenth of the target
    and since ``slice_worst`` was last reset (seconds)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.worst = 0.0
        self.tenths = [0.0] * 10
        self.slice_worst = 0.0
        self.last = time.perf_counter()

    def tick(self, count: int) -> None:
        now = time.perf_counter()
        stall = max(0.0, now - self.last - BEAT)
        self.last = now
        tenth = min(9, count * 10 // max(1, self.target))
        self.tenths[tenth] = max(self.tenths[tenth], stall)
        self.slice_worst = max(self.slice_worst, stall)
        self.worst = max(self.worst, stall)


class Meter:
    """What the engine loop's heartbeat sees (the capture's count, its stalls), the RSS
    at FIRST messages, and an RSS sample every second from a thread of its own."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.engine = Stalls(target)
        self.rss_first: float | None = None
        self.samples: list[tuple[float, int, float]] = []  # (s, messages, RSS MB)
        self.running = True
        self._stopped = threading.Event()
        self.began = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    async def heartbeat(self, capture: Any) -> None:
        """On the engine loop until ``running`` is False: only it reads the capture."""
        self.engine.last = time.perf_counter()
        while self.running:
            await asyncio.sleep(BEAT)
            self.count = len(capture.messages)
            self.engine.tick(self.count)
            if self.rss_first is None and self.count >= FIRST:
                self.rss_first = status_mb()

    def start_sampling(self) -> None:
        self.began = time.monotonic()
        self._thread.start()

    def _sample(self) -> None:
        while True:
            self.samples.append((round(time.monotonic() - self.began, 1), self.count,
                                 round(status_mb(), 1)))
            if self._stopped.wait(1.0):
                return

    def stop(self) -> None:
        """Stop the heartbeat and the sampler (at once: it may be called on the loop)."""
        self.running = False
        self._stopped.set()


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests, requests/s and errors from wrk's summary (empty if there is none)."""
    run: dict[str, Any] = {}
    if (rps := re.search(r"Requests/sec:\s+([\d.]+)", out)):
        run["rps"] = float(rps[1])
    if (total := re.search(r"(\d+) requests in", out)):
        run["requests"] = int(total[1])
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    if (bad := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)):
        errors += int(bad[1])
    run["errors"] = errors
    return run


async def run_wrk(url: str, seconds: int, enough: Callable[[], bool],
                  conns: int = 20, threads: int = 2) -> dict[str, Any]:
    """One slice: ``wrk -d seconds`` against ``url``, ended early (SIGINT, by its PID:
    wrk then prints its summary) once ``enough()``; never longer than seconds + 10."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not found (sudo apt-get install wrk)")
    proc = subprocess.Popen([wrk, f"-t{threads}", f"-c{conns}", f"-d{seconds}s", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + seconds + 10
    signalled = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if enough() and not signalled:
                os.kill(proc.pid, signal.SIGINT)
                signalled, deadline = True, min(deadline, time.monotonic() + 5)
            await asyncio.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    return parse_wrk(out)


async def drive(address: str, meter: Meter, stalls: list[Stalls], max_seconds: float,
                slice_seconds: int) -> dict[str, Any]:
    """Slices of wrk until the capture holds ``meter.target`` messages or time is up."""
    url = f"http://{address}{PATH}"
    slices: list[dict[str, Any]] = []
    meter.start_sampling()
    began = time.monotonic()
    while meter.count < meter.target:
        left = max_seconds - (time.monotonic() - began)
        if left < 1:
            break
        for each in stalls:
            each.slice_worst = 0.0
        count, at = meter.count, time.monotonic()
        run = await run_wrk(url, max(1, min(slice_seconds, int(left))),
                            lambda: meter.count >= meter.target)
        await asyncio.sleep(2 * BEAT)  # the heartbeat has counted the last replies
        spent = time.monotonic() - at
        row = {"seconds": round(spent, 2), "messages": meter.count,
               "msg_per_s": round((meter.count - count) / spent), "rss_mb": status_mb(),
               "stall_ms": [round(each.slice_worst * 1000, 1) for each in stalls], **run}
        slices.append(row)
        print(f"day: {meter.count:,} messages, {row['msg_per_s']:,}/s, RSS "
              f"{row['rss_mb']:.0f} MB, stall {row['stall_ms']} ms", file=sys.stderr,
              flush=True)
        if run.get("requests", 0) == 0:
            raise RuntimeError(f"wrk sent nothing to {url}: {run}")
    seconds = time.monotonic() - began
    return {"slices": slices, "seconds": round(seconds, 1),
            "stopped": "messages" if meter.count >= meter.target else "time"}


def late_growth(samples: list[tuple[float, int, float]], count: int,
                end: float) -> float | None:
    """KB per message over the second half of the run: once the capture's window has
    filled, what is left of the growth is what a whole day adds."""
    half = [(n, mb) for _, n, mb in samples if n >= count // 2]
    if not half or count - half[0][0] < 1000:
        return None
    return round((end - half[0][1]) * 1024 / (count - half[0][0]), 3)


def summary(meter: Meter, stalls: dict[str, Stalls], driven: dict[str, Any]
            ) -> dict[str, Any]:
    """The figures of one part as a JSON-able dict."""
    end = status_mb()
    first = meter.rss_first if meter.rss_first is not None else end
    grown = max(0, meter.count - FIRST)
    res: dict[str, Any] = {
        "target": meter.target, "messages": meter.count,
        "msg_per_s": round(meter.count / max(driven["seconds"], 1e-9)),
        "rss_mb_first": round(first, 1), "rss_mb_end": round(end, 1),
        "rss_mb_peak": round(status_mb("VmHWM"), 1), "growth_mb": round(end - first, 1),
        "kb_per_message": round((end - first) * 1024 / grown, 3) if grown else None,
        "late_kb_per_message": late_growth(meter.samples, meter.count, end),
        "rss_samples": meter.samples, **driven}
    for name, each in stalls.items():
        res[f"{name}_stall_ms"] = round(each.worst * 1000, 1)
        res[f"{name}_stall_tenths_ms"] = [round(t * 1000, 1) for t in each.tenths]
    return res


async def engine_day(target: int, max_seconds: float, slice_seconds: int) -> dict[str, Any]:
    """The engine part, in this process: ``cslab serve http -q`` and the load."""
    from lab.cli_output import freeze_start_up
    from lab.engine import Engine

    engine = Engine()  # -q: no printer; no --capture, no --record
    meter = Meter(target)
    try:
        info = await engine.add_server("http", host="127.0.0.1", port=0, options={},
                                       start=False)
        engine.wire_board.set_faults(info.id, latency=0.0, jitter=0.0, bandwidth=0,
                                     loss=0.0, seed=None)
        await engine.share_server(info.id, "127.0.0.1", max_per_client=None,
                                  max_total=None)
        address = (await engine.start_server(info.id)).address
        freeze_start_up()  # as cslab serve does once it listens
        beat = asyncio.create_task(meter.heartbeat(engine.capture))
        try:
            driven = await drive(address, meter, [meter.engine], max_seconds, slice_seconds)
        finally:
            meter.stop()
            await beat
        return {"part": "engine", "address": address,
                **summary(meter, {"engine": meter.engine}, driven)}
    finally:
        meter.stop()
        await engine.shutdown()


def _inside(part: str, target: int, max_seconds: float, slice_seconds: int) -> int:
    if part == "engine":
        res = asyncio.run(engine_day(target, max_seconds, slice_seconds))
    else:
        from tests.perf.day_gui import gui_day

        res = gui_day(target, max_seconds, slice_seconds)
    print(json.dumps(res), flush=True)
    os._exit(0)  # the figures are out; skip the teardown of millions of messages


def run_part(part: str, target: int, max_seconds: float, slice_seconds: int
             ) -> dict[str, Any]:
    """One part in a subprocess of its own (its progress goes to stderr as it runs)."""
    data = tempfile.mkdtemp(prefix="cslab-day-bench-")
    env = {**os.environ, "CSLAB_DATA_DIR": data, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "tests.perf.day_bench", "--inside", part,
               "--messages", str(target), "--max-seconds", str(max_seconds),
               "--slice-seconds", str(slice_seconds)]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                              timeout=max_seconds + 300, check=False)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"day bench ({part}) failed with {done.returncode}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def judge(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of (what, measured, goal, met) for one part."""
    n = res["messages"]
    at = "" if n >= GOAL_MESSAGES else f" (at {n:,}; goal over {GOAL_MESSAGES:,})"
    rows = [(f"{res['part']}: messages captured (stopped at {res['stopped']})",
             f"{n:,} in {res['seconds']:.0f} s = {res['msg_per_s']:,}/s", "", ""),
            ("  RSS at 10,000 messages / end / peak",
             f"{res['rss_mb_first']:.0f} / {res['rss_mb_end']:.0f} / "
             f"{res['rss_mb_peak']:.0f} MB", "", ""),
            ("  RSS growth from 10,000 messages" + at, f"+{res['growth_mb']:.0f} MB",
             f"<= +{RSS_GROWTH_GOAL_MB:.0f} MB", "" if at else
             "yes" if res["growth_mb"] <= RSS_GROWTH_GOAL_MB else "NO"),
            ("  RSS growth per message", f"{res['kb_per_message'] or 0:.2f} KB", "", "")]
    rate = res.get("late_kb_per_message")
    if rate is not None:
        rows.append(("  RSS growth per message, second half of the run", f"{rate:.3f} KB",
                     "", ""))
    if at and rate is not None:
        at_goal = res["growth_mb"] + max(0.0, rate) * (GOAL_MESSAGES - n) / 1024
        rows.append(("  growth over 5 M messages at the second half's rate (projected)",
                     f"+{at_goal:,.0f} MB",
                     f"<= +{RSS_GROWTH_GOAL_MB:.0f} MB",
                     "yes" if at_goal <= RSS_GROWTH_GOAL_MB else "NO"))
    for name, what in (("engine", "engine loop"), ("qt", "Qt thread")):
        if f"{name}_stall_ms" in res:
            worst = res[f"{name}_stall_ms"]
            rows.append((f"  longest {what} stall" + at, f"{worst:.0f} ms",
                         f"< {STALL_GOAL_MS:.0f} ms", "yes" if worst < STALL_GOAL_MS else "NO"))
            tenths = " ".join(f"{t:.0f}" for t in res[f"{name}_stall_tenths_ms"])
            rows.append((f"    per tenth of {res['target']:,} (ms)", tenths, "", ""))
    for key in ("rows", "bridge_count"):
        if res.get(key) is not None:
            rows.append((f"  window: {key.replace('_', ' ')}", f"{res[key]:,}", "", ""))
    return rows


def table(parts: list[dict[str, Any]]) -> str:
    cells = [("A day's load (wrk -t2 -c20, GET /api/notes/1)", "measured", "goal", "met")]
    for res in parts:
        cells.extend(judge(res))
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(4)).rstrip() for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    for res in parts:
        lines.append(f"\n{res['part']} slices: seconds | messages | msg/s | wrk req/s | "
                     f"errors | stall ms (engine[, Qt]) | RSS MB")
        lines.extend(f"  {s['seconds']:5.1f} | {s['messages']:>10,} | {s['msg_per_s']:>6,} | "
                     f"{s.get('rps', 0):>8,.0f} | {s.get('errors', 0)} | "
                     f"{' / '.join(f'{v:.0f}' for v in s['stall_ms'])} | {s['rss_mb']:.0f}"
                     for s in res["slices"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.day_bench",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=MESSAGES,
                        help=f"engine part: captured messages to reach ({MESSAGES:,})")
    parser.add_argument("--gui-messages", type=int, default=GUI_MESSAGES,
                        help=f"window part: captured messages to reach ({GUI_MESSAGES:,})")
    parser.add_argument("--no-engine", action="store_true", help="skip the engine part")
    parser.add_argument("--no-gui", action="store_true", help="skip the window part")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS,
                        help=f"each part stops here if N is not reached ({MAX_SECONDS:g})")
    parser.add_argument("--slice-seconds", type=int, default=SLICE_SECONDS,
                        help=f"wrk's -d per slice ({SLICE_SECONDS})")
    parser.add_argument("-o", "--output", help="also write the figures to this JSON file")
    parser.add_argument("--inside", choices=("engine", "gui"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        return _inside(args.inside, args.messages, args.max_seconds, args.slice_seconds)
    if shutil.which("wrk") is None:
        print("(day bench: wrk not found; sudo apt-get install wrk)")
        return 1
    parts, failed = [], 0
    for part, target, skip in (("engine", args.messages, args.no_engine),
                               ("gui", args.gui_messages, args.no_gui)):
        try:
            if not skip:
                parts.append(run_part(part, target, args.max_seconds, args.slice_seconds))
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            print(f"(day bench, {part} part: {exc})")
            failed += 1
    print(table(parts))
    if args.output:
        res = {res["part"]: res for res in parts}
        Path(args.output).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 1 if failed and not parts else 0


if __name__ == "__main__":
    sys.exit(main())
