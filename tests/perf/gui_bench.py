"""The sequence diagram at 100,000 messages: how long painting and scrolling take.

    python -m tests.perf.gui_bench [--messages N] [--batch B]

Builds what the window builds (the inspector's model and filter proxy, the
diagram over them, sharing the inspector's selection) on Qt's offscreen
platform, in a subprocess of its own. Then:

- live: N messages arrive in batches of B (333: 10,000 messages/s drained at
  30 Hz), over 10 connections between 4 clients (3 of the lab's, one from
  outside) and 2 servers: 6 lanes; after each batch the view is painted as the
  screen would (the diagram following the end). Reported: the worst and
  median batch (append, then paint).
- scroll: from the end to the top a page at a time, then 200 jumps to random
  rows, painting each time. Reported: worst and median paint.
- filter: a filter that keeps one connection's rows, then none, and back: the
  time to the first paint after each (a filter change looks at every row once).
- export: the last rows as PNG (at most 600 rows).
- lanes: 100, 1,000 and 5,000 outside hosts, one connection each, to one
  server (as many lanes plus one); the worst and median of 60 paints of the
  whole view (heads and rows) while scrolling down and across.

Figures are milliseconds; nothing is asserted (tests/ui/test_sequence_model.py
checks the behaviour at 100,000 messages without timing it).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ("127.0.0.1:50001", "127.0.0.1:50002", "127.0.0.1:50003", "10.0.0.7:41000")
#: The lab clients among them, named as the window names them (the outside one by host).
NAMED = {client: f"client #{n}" for n, client in enumerate(CLIENTS[:3], 1)}
SERVERS = ("127.0.0.1:8080", "127.0.0.1:2525")


def _messages(start: int, count: int) -> list:  # type: ignore[type-arg]
    from lab.model import Message, Sender
    now = time.time()
    out = []
    for n in range(start, start + count):
        conn = n // 7 % 10
        text = f"GET /page/{n}" if n % 2 else f"200 OK ({n} bytes)"
        out.append(Message(id=n, time=now + n * 1e-4, connection=f"c{conn}", protocol="http",
                           sender=Sender.CLIENT if n % 2 else Sender.SERVER,
                           client=CLIENTS[conn % 4], server=SERVERS[conn % 2], summary=text,
                           size=len(text), raw=text.encode(),
                           injected=n % 997 == 0, malformed=n % 1009 == 0))
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def measure(total: int, batch: int) -> list[tuple[str, str, str]]:
    """Run the four measurements; rows of (what, worst ms, median ms)."""
    from PySide6.QtWidgets import QApplication

    from lab.model import Sender
    from ui.models.messages import MessageTableModel
    from ui.models.sequence import SequenceModel
    from ui.views.inspector import InspectorView
    from ui.views.sequence import SequenceView

    app = QApplication.instance() or QApplication([])
    model = MessageTableModel()
    inspector = InspectorView(model)
    seq = SequenceModel(inspector.proxy, lambda m, side: NAMED.get(m.client, "10.0.0.7")
                        if side is Sender.CLIENT else m.server)
    view = SequenceView(seq, inspector.table.selectionModel())
    view.resize(900, 700)
    view.show()
    app.processEvents()
    rows: list[tuple[str, str, str]] = []

    live = []
    for start in range(1, total + 1, batch):
        count = min(batch, total - start + 1)
        messages = _messages(start, count)
        began = time.perf_counter()
        model.append(messages)
        app.processEvents()  # the follower scrolls to the end
        view.viewport().grab()
        live.append(time.perf_counter() - began)
    rows.append((f"live: batch of {batch} appended + painted ({len(live)} batches)",
                 _ms(max(live)), _ms(statistics.median(live))))

    bar = view.verticalScrollBar()
    paints = []
    for value in [*range(bar.maximum(), 0, -bar.pageStep()), 0]:
        began = time.perf_counter()
        bar.setValue(value)
        view.viewport().grab()
        paints.append(time.perf_counter() - began)
    rows.append((f"scroll: a page at a time, end to top ({len(paints)} paints)",
                 _ms(max(paints)), _ms(statistics.median(paints))))
    jumps, pick = [], random.Random(7)
    for _ in range(200):
        began = time.perf_counter()
        bar.setValue(pick.randrange(bar.maximum() + 1))
        view.viewport().grab()
        jumps.append(time.perf_counter() - began)
    rows.append(("scroll: 200 jumps to random rows", _ms(max(jumps)),
                 _ms(statistics.median(jumps))))

    for text in ("127.0.0.1:50003", "no such thing", ""):
        began = time.perf_counter()
        inspector.filter_edit.setText(text)
        view.viewport().grab()
        rows.append((f"filter {text!r} ({seq.row_count()} rows) + first paint",
                     _ms(time.perf_counter() - began), ""))

    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        view.export(str(Path(folder) / "last.png"), 0, seq.row_count() - 1)
        rows.append(("export the last 600 rows as PNG", _ms(time.perf_counter() - began), ""))
    assert seq.row_count() == total  # every row back after the filters
    view.close()
    for hosts in (100, 1_000, 5_000):
        rows.append(measure_lanes(hosts))
    return rows


def measure_lanes(hosts: int) -> tuple[str, str, str]:
    """Paint times with ``hosts`` + 1 lanes: each outside host makes one connection."""
    from lab.model import Message, Sender
    from ui.models.messages import MessageTableModel
    from ui.models.sequence import SequenceModel
    from ui.views.sequence import SequenceView

    model = MessageTableModel()
    seq = SequenceModel(model)
    view = SequenceView(seq)
    view.resize(900, 700)
    view.show()
    model.append([Message(id=n, time=n * 1e-3, connection=f"c{n // 2}", protocol="http",
                          sender=Sender.CLIENT if n % 2 == 0 else Sender.SERVER,
                          client=f"10.{n // 2 >> 16 & 255}.{n // 2 >> 8 & 255}."
                                 f"{n // 2 & 255}:40000",
                          server="127.0.0.1:8080", summary="GET /", size=5, raw=b"GET /")
                  for n in range(2 * hosts)])
    view.grab()  # lays the lanes out once
    lanes = len(seq.lanes())
    vbar, hbar = view.verticalScrollBar(), view.horizontalScrollBar()
    paints = []
    for step in range(60):
        began = time.perf_counter()
        vbar.setValue(vbar.maximum() * (step % 30) // 29)
        hbar.setValue(hbar.maximum() * step // 59)
        view.grab()
        paints.append(time.perf_counter() - began)
    view.close()
    return (f"lanes: {lanes:,} lanes, 60 paints scrolling down and across",
            _ms(max(paints)), _ms(statistics.median(paints)))


def table(rows: list[tuple[str, str, str]], total: int) -> str:
    head = (f"sequence diagram, {total:,} messages", "worst ms", "median ms")
    cells = [head, *rows]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(3)) for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def run_bench(total: int = 100_000, batch: int = 333) -> str:
    """The table, measured in a subprocess on Qt's offscreen platform."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "tests.perf.gui_bench", "--inside",
                           "--messages", str(total), "--batch", str(batch)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"gui bench failed:\n{done.stderr[-2000:]}"
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.gui_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=333)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.inside:
        print(run_bench(args.messages, args.batch))
        return 0
    print(table(measure(args.messages, args.batch), args.messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
