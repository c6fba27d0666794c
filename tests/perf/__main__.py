"""``python -m tests.perf [--seconds S] [--megabytes MB] [--rounds N]
[--http-seconds S] [--no-http] [-o FILE]``.

Prints a table (metric | direct | wire | ratio | goal) and writes the figures to
bench-results.json. Loopback only; about 20 s with the defaults. Then the HTTP
table (tests/perf/http_bench.py: direct vs Wire vs mitmdump, under 90 s; skip it
with ``--no-http``), written under "http" in the same file. Then the FTP table
(tests/perf/ftp_bench.py) and the sequence diagram's paint and scroll times at
100,000 messages (tests/perf/gui_bench.py, offscreen, about 15 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path

from tests.perf import http_bench
from tests.perf.bench import Results, measure

#: The issue's goals: the Wire keeps 80 % of direct round trips and 50 % of bulk
#: throughput, and resident memory stays flat while 500 MB cross it.
RT_GOAL = 0.80
BULK_GOAL = 0.50
FLAT_MIB = 64.0


def table(res: Results) -> tuple[str, bool]:
    rt, bw, rss = res["round_trips_per_s"], res["bulk_mb_per_s"], res["wire_bulk_rss_mib"]
    rt_ratio = rt["wire"] / rt["direct"]
    bw_ratio = bw["wire"] / bw["direct"]
    growth = rss["peak"] - rss["start"]
    rows = [
        ("1 KB echo round trips/s", f"{rt['direct']:,.0f}", f"{rt['wire']:,.0f}",
         f"{rt_ratio:.0%}", f">= {RT_GOAL:.0%}", rt_ratio >= RT_GOAL),
        ("  ceiling: a bare relay", "", f"{rt['bare relay']:,.0f}",
         f"{rt['bare relay'] / rt['direct']:.0%}", "(no goal)", True),
        ("bulk MB/s (one way)", f"{bw['direct']:,.0f}", f"{bw['wire']:,.0f}",
         f"{bw_ratio:.0%}", f">= {BULK_GOAL:.0%}", bw_ratio >= BULK_GOAL),
        ("RSS MiB during wire bulk", "", f"{rss['start']:.0f} / {rss['peak']:.0f} / "
         f"{rss['end']:.0f}", f"+{growth:.0f}", f"peak-start < {FLAT_MIB:.0f}",
         growth < FLAT_MIB),
    ]
    head = ("metric", "direct", "wire", "ratio", "goal", "met")
    cells = [head, *[(*r[:5], ("yes" if r[5] else "NO") if r[4] != "(no goal)" else "")
                     for r in rows]]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(head))]
    lines = [" | ".join(str(c[i]).ljust(widths[i]) for i in range(len(head))) for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append("(RSS: start / peak / end; the bare relay only forwards, without capture:\n"
                 " the most any relay on the same loop as client and server can reach)")
    return "\n".join(lines), all(r[5] for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per round-trip run (3)")
    parser.add_argument("--megabytes", type=int, default=500, help="per bulk run (500)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations, best kept (2)")
    parser.add_argument("--http-seconds", type=float, default=5.0,
                        help="per HTTP load run (5)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP table")
    parser.add_argument("-o", "--output", default="bench-results.json")
    args = parser.parse_args(argv)
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
    print("\n" + __import__("tests.perf.ftp_bench", fromlist=["run_bench"]).run_bench())
    print("\n" + __import__("tests.perf.gui_bench", fromlist=["run_bench"]).run_bench())
    return 0


if __name__ == "__main__":
    sys.exit(main())
