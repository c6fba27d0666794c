"""Start-up: ``cslab gui`` to its first painted window, against a bare PySide6 window.

    python -m tests.perf.startup_bench [--runs N] [-o FILE.json]

Each start is a fresh process on Qt's offscreen platform, started the same way
(``python -m tests.perf.startup_bench --child KIND``): the child makes the
QApplication, watches for the first paint event of a main window, prints the
monotonic clock at that moment and exits at once. The time counts from just
before the process is started (the parent's monotonic clock) to that paint.
``bare`` is a QMainWindow holding a QLabel; ``gui`` is what ``cslab gui`` runs
(``lab.cli.main(["gui"])``). Runs alternate between the two; the table gives
the best and the median of each and their ratio (goal: gui <= 2x bare).
Bytecode is cached (in a temporary folder, whatever PYTHONDONTWRITEBYTECODE
says) as it is for an installed app; a first start of each, not counted, fills it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOAL = 2.0
KINDS = ("bare", "gui")


def _child(kind: str) -> int:
    """Start ``kind`` and print the monotonic time of its first painted main window."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QWidget

    app = QApplication(sys.argv)

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget) \
                    and isinstance(watched.window(), QMainWindow):
                print(f"painted {time.monotonic():.6f}", flush=True)
                os._exit(0)  # the first paint is all we measure: no shutdown
            return False

    spy = FirstPaint()
    app.installEventFilter(spy)
    if kind == "bare":
        window = QMainWindow()
        window.setCentralWidget(QLabel("Hello", window))
        window.show()
        return app.exec()
    from lab.cli import main
    return main(["gui"])


def start_once(kind: str, home: str) -> float:
    """Seconds from starting a process of ``kind`` to its first painted window."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home,
           "XDG_CONFIG_HOME": str(Path(home) / ".config"),
           "PYTHONPYCACHEPREFIX": str(Path(home) / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed app has its bytecode
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tests.perf.startup_bench", "--child", kind],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        if line.startswith("painted "):
            return float(line.split()[1]) - began
    raise RuntimeError(f"{kind} never painted (exit {done.returncode}):\n{done.stderr[-2000:]}")


def measure(runs: int) -> dict[str, object]:
    """``runs`` starts of each kind, alternating; the figures as a dict (seconds)."""
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as home:  # the user's settings stay untouched
        for kind in KINDS:  # a first start of each fills the caches; not counted
            start_once(kind, home)
        for _ in range(runs):
            for kind in KINDS:
                times[kind].append(start_once(kind, home))
    best = {kind: min(values) for kind, values in times.items()}
    median = {kind: statistics.median(values) for kind, values in times.items()}
    return {"runs": runs, "seconds": times, "best": best, "median": median,
            "ratio_best": best["gui"] / best["bare"],
            "ratio_median": median["gui"] / median["bare"], "goal": GOAL,
            "met": median["gui"] / median["bare"] <= GOAL}


def table(res: dict[str, object]) -> str:
    best, median = res["best"], res["median"]
    assert isinstance(best, dict) and isinstance(median, dict)
    rows = [("start-up to first paint", "bare ms", "cslab gui ms", "ratio", "goal", "met")]
    for name, values, ratio in (("best", best, res["ratio_best"]),
                                ("median", median, res["ratio_median"])):
        assert isinstance(ratio, float)
        rows.append((f"{name} of {res['runs']}", f"{values['bare'] * 1000:.0f}",
                     f"{values['gui'] * 1000:.0f}", f"{ratio:.2f}x", f"<= {GOAL:.0f}x",
                     "yes" if ratio <= GOAL else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.startup_bench",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("-o", "--output", help="also write the figures to this JSON file")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child)
    res = measure(args.runs)
    print(table(res))
    if args.output:
        Path(args.output).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
