"""``python -m tests.hostile [-o FILE] [--kind K]… [--quick]``: the whole battery, a tally."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.hostile.attacks import Scale
from tests.hostile.battery import MEMORY_BOUND_KB, TARGETS, Row, run

QUICK = Scale(random_bytes=16 * 1024, long_line=2 * 1024 * 1024, slow_connections=24,
              slow_seconds=3.0, half_open=6, half_open_seconds=1.0, flood=48, datagrams=50,
              cap=32, pipeline=16 * 1024)


def _line(row: Row) -> str:
    grew = (row.rss_after_kb - row.rss_baseline_kb) / 1024
    during = "" if not row.normal_during else ("ok" if not row.normal_during.startswith(
        "FAILED") else "FAIL")
    after = "ok" if not row.normal_after.startswith("FAILED") else "FAIL"
    return (f"{row.target:9} {row.attack:18} {row.connections:5} {row.bytes_sent:>10,} "
            f"{row.bytes_captured:>10,} {row.messages:>7,} {row.malformed:5} {row.refused:5} "
            f"{row.messages_lost:4} "
            f"{during:>6} {after:>5} {grew:+7.1f} {'yes' if row.survived else 'NO':>8}")


HEADER = (f"{'target':9} {'attack':18} {'conns':>5} {'sent':>10} {'captured':>10} "
          f"{'msgs':>7} {'malf':>5} {'refus':>5} {'lost':>4} {'during':>6} {'after':>5} "
          f"{'ΔMiB':>7} {'survived':>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile", description=__doc__)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the rows as JSON")
    parser.add_argument("--kind", action="append", choices=sorted(TARGETS),
                        help="only this server kind (repeatable; default: all)")
    parser.add_argument("--attack", action="append", help="only this attack (repeatable)")
    parser.add_argument("--quick", action="store_true", help="the reduced CI scale")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else Scale()
    began = time.monotonic()
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="cslab-hostile-") as folder:
        rows = run(args.kind or list(TARGETS), scale, Path(folder), args.attack,
                   report=lambda row: print(_line(row), flush=True))
    took = time.monotonic() - began
    survived = sum(row.survived for row in rows)
    lost = sum(row.messages_lost for row in rows)
    targets = {row.target for row in rows}
    failed = {row.target for row in rows if not row.survived}
    print(f"\ninputs tried: {len(rows)} attacks, {sum(r.connections for r in rows):,} "
          f"sockets, {sum(r.bytes_sent for r in rows):,} bytes on {len(targets)} targets; "
          f"servers survived: {len(targets - failed)}/{len(targets)} "
          f"({survived}/{len(rows)} attacks); messages lost: {lost}; "
          f"memory bound {MEMORY_BOUND_KB // 1024} MiB; {took:.0f} s")
    for row in rows:
        for note in row.notes:
            print(f"  {row.target} / {row.attack}: {note}")
        for label, text in (("during", row.normal_during), ("after", row.normal_after)):
            if text.startswith("FAILED"):
                print(f"  {row.target} / {row.attack}: normal client {label}: {text}")
    if args.output:
        summary = {"attacks": len(rows), "sockets": sum(r.connections for r in rows),
                   "bytes_sent": sum(r.bytes_sent for r in rows), "survived": survived,
                   "servers_survived": len(targets - failed), "servers": len(targets),
                   "messages_lost": lost, "targets": sorted(targets),
                   "failed_targets": sorted(failed),
                   "seconds": round(took, 1), "memory_bound_kb": MEMORY_BOUND_KB}
        Path(args.output).write_text(json.dumps(
            {"summary": summary, "rows": [row.record() for row in rows]}, indent=2) + "\n",
            encoding="utf-8")
    return 0 if survived == len(rows) and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
