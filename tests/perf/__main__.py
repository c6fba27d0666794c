"""``python -m tests.perf [--seconds S] [--megabytes MB] [--rounds N]
[--http-seconds S] [--no-http] [--scale-seconds S] [--no-scale] [--day-messages N]
[--day-gui-messages N] [--day-max-seconds S] [--no-day] [--only day] [-o FILE]``.

Prints the Wire's tables and writes every figure to one JSON file
(bench-results.json). Loopback only. In order:

- 1 KB echo round trips and bulk MB/s for 1 GB (tests/perf/bench.py): direct, the
  Wire on the same loop, the Wire in its own process (cslab relay), with memory
  during bulk; about 40 s;
- HTTP keep-alive req/s and p50/p99 with wrk at 1 and 50 connections
  (tests/perf/http_bench.py): direct, Wire in-process, Wire in its own process,
  mitmdump; under 150 s; "http" in the file; skip with ``--no-http``;
- scale: 500 clients through the Wire for 20 s (tests/perf/scale_bench.py);
  "scale" in the file; skip with ``--no-scale``;
- the window under load: 10,000 messages/s for 10 s through the bridge into the
  main window (tests/perf/gui_load_bench.py): "gui_load" in the file;
- start-up: ``cslab gui`` to first paint against a bare PySide6 window
  (tests/perf/startup_bench.py): "startup" in the file; skip both GUI benches
  with ``--no-gui``;
- then the FTP table (tests/perf/ftp_bench.py) and the sequence diagram's paint
  and scroll times at 100,000 messages (tests/perf/gui_bench.py);
- last, a day's load (tests/perf/day_bench.py, issue 17): wrk against ``cslab serve
  http`` until its capture holds ``--day-messages`` (1,000,000; the goal is stated over
  5,000,000), then against ``cslab gui`` with the capture shown (``--day-gui-messages``,
  300,000): RSS growth from 10,000 messages and the longest loop stall; "day" in the
  file; skip with ``--no-day``, or run only it with ``--only day``.

Not run here (each takes minutes of its own): the window over a saved capture of
5,000,000 messages, scroll and filter times (``python -m tests.perf.view_bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.perf import day_bench, gui_load_bench, http_bench, scale_bench, startup_bench
from tests.perf.bench import Results, measure

#: Goals: the Wire keeps 80 % of direct 1 KB round trips (issue 3) and 70 % of bulk
#: throughput (issue 10), and resident memory stays flat while 1 GB crosses it.
RT_GOAL = 0.80
BULK_GOAL = 0.70
FLAT_MIB = 64.0

WHERE = {"wire": "Wire, same process and loop", "relay": "Wire, own process (cslab relay)",
         "bare relay": "bare relay (forwards only)"}


def table(res: Results) -> tuple[str, bool]:
    rt, bw = res["round_trips_per_s"], res["bulk_mb_per_s"]
    rows: list[tuple[str, str, str, str, str, bool | None]] = []
    for name in ("direct", "wire", "relay", "bare relay"):
        ratio = rt[name] / rt["direct"]
        goal = name in ("wire", "relay")
        rows.append(("1 KB echo round trips/s", WHERE.get(name, name), f"{rt[name]:,.0f}",
                     f"{ratio:.0%}", f">= {RT_GOAL:.0%}" if goal else "",
                     ratio >= RT_GOAL if goal else None))
    cpu = res.get("round_trip_cpu_us", {})
    for name in ("direct", "wire", "relay", "bare relay") if cpu else ():
        rows.append(("  CPU µs per round trip", WHERE.get(name, name), f"{cpu[name]:.1f}",
                     f"{cpu[name] / cpu['direct']:.1f}×", "", None))
    for name in ("direct", "wire", "relay"):
        ratio = bw[name] / bw["direct"]
        goal = name != "direct"
        rows.append(("bulk MB/s (one way)", WHERE.get(name, name), f"{bw[name]:,.0f}",
                     f"{ratio:.0%}", f">= {BULK_GOAL:.0%}" if goal else "",
                     ratio >= BULK_GOAL if goal else None))
    for name in ("wire", "relay"):
        rss = res[f"{name}_bulk_rss_mib"]
        growth = rss["peak"] - rss["start"]
        rows.append(("RSS MiB during bulk", WHERE[name],
                      f"{rss['start']:.0f} / {rss['peak']:.0f} / {rss['end']:.0f}",
                      f"+{growth:.0f}", f"peak-start < {FLAT_MIB:.0f}", growth < FLAT_MIB))
    head = ("metric", "through", "value", "ratio", "goal", "met")
    cells = [head, *[(*r[:5], "" if r[5] is None else ("yes" if r[5] else "NO"))
                     for r in rows]]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(head))]
    lines = [" | ".join(str(c[i]).ljust(widths[i]) for i in range(len(head))).rstrip()
             for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append("(ratio: of direct; RSS: start / peak / end, of this process for the Wire on\n"
                 " its loop, of the relay process for cslab relay; the bare relay forwards\n"
                 " without capture on the same loop: the most an in-process relay can reach;\n"
                 " CPU per round trip: client, echo server and an in-process relay, plus the\n"
                 " relay's own process for cslab relay; it does not depend on how the cores\n"
                 " are shared as round trips/s do)")
    return "\n".join(lines), all(r[5] for r in rows if r[5] is not None)


def _merge(output: Path, key: str, bench: Callable[[list[str]], int]) -> None:
    """Run ``bench`` (it prints its table) and put its JSON under ``key`` in ``output``."""
    with tempfile.TemporaryDirectory() as folder:
        part = Path(folder) / f"{key}.json"
        if bench(["-o", str(part)]) != 0 or not part.exists():
            print(f"({key}: the bench failed; nothing recorded)")
            return
        results = json.loads(output.read_text(encoding="utf-8"))
        results[key] = json.loads(part.read_text(encoding="utf-8"))
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per round-trip run (3)")
    parser.add_argument("--megabytes", type=int, default=1000, help="per bulk run (1000)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations, best kept (2)")
    parser.add_argument("--http-seconds", type=float, default=5.0,
                        help="per HTTP load run (5)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP table")
    parser.add_argument("--scale-seconds", type=float, default=scale_bench.SECONDS,
                        help=f"the scale run ({scale_bench.SECONDS:g})")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale run")
    parser.add_argument("--no-gui", action="store_true",
                        help="skip the window-under-load and start-up benches and the "
                             "day's window part")
    parser.add_argument("--day-messages", type=int, default=day_bench.MESSAGES,
                        help=f"the day's engine part: messages ({day_bench.MESSAGES:,})")
    parser.add_argument("--day-gui-messages", type=int, default=day_bench.GUI_MESSAGES,
                        help=f"the day's window part: messages ({day_bench.GUI_MESSAGES:,})")
    parser.add_argument("--day-max-seconds", type=float, default=day_bench.MAX_SECONDS,
                        help=f"each day part at most ({day_bench.MAX_SECONDS:g})")
    parser.add_argument("--no-day", action="store_true", help="skip the day's load")
    parser.add_argument("--only", choices=("day",), help="run only this bench")
    parser.add_argument("-o", "--output", default="bench-results.json")
    args = parser.parse_args(argv)
    day = ["--messages", str(args.day_messages), "--gui-messages", str(args.day_gui_messages),
           "--max-seconds", str(args.day_max_seconds), *(["--no-gui"] if args.no_gui else [])]
    if args.only == "day":
        Path(args.output).write_text(json.dumps(
            {"python": platform.python_version(), "args": vars(args)}, indent=2) + "\n",
            encoding="utf-8")
        _merge(Path(args.output), "day", lambda argv: day_bench.main([*day, *argv]))
        return 0
    started = time.perf_counter()
    res = asyncio.run(measure(args.seconds, args.megabytes * 1_000_000, args.rounds))
    text, met = table(res)
    print(text)
    print(f"({time.perf_counter() - started:.0f} s; Python {platform.python_version()}, "
          f"{args.megabytes} MB bulk, {args.seconds:g} s round-trip runs, best of "
          f"{args.rounds})")
    Path(args.output).write_text(json.dumps(
        {**res, "goals_met": met, "python": platform.python_version(),
         "args": vars(args)}, indent=2) + "\n", encoding="utf-8")
    if not args.no_http:
        print()
        http_text, http_res = http_bench.run_bench(args.http_seconds, breakdown=False)
        print(http_text)
        http_bench.merge_results(Path(args.output), http_res)
    if not args.no_scale:
        print()
        scale_text, scale_res = scale_bench.run_bench(seconds=args.scale_seconds)
        print(scale_text)
        results = json.loads(Path(args.output).read_text(encoding="utf-8"))
        results["scale"] = scale_res
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_gui:
        for key, bench in (("gui_load", gui_load_bench.main), ("startup", startup_bench.main)):
            print()
            _merge(Path(args.output), key, bench)
    print("\n" + __import__("tests.perf.ftp_bench", fromlist=["run_bench"]).run_bench())
    print("\n" + __import__("tests.perf.gui_bench", fromlist=["run_bench"]).run_bench())
    if not args.no_day:
        print()
        _merge(Path(args.output), "day", lambda argv: day_bench.main([*day, *argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
