"""The real window under load: 10,000 messages a second for 10 s through the real bridge.

    python -m tests.perf.gui_load_bench [--rate R] [--seconds S] [--no-sampling] [-o FILE.json]

In a subprocess of its own on Qt's offscreen platform, the app is built as
``cslab gui`` builds it (an EngineThread, the EngineBridge over its capture, the
MainWindow, a qasync loop). A producer on the engine thread opens 10 HTTP
connections between 4 clients and 2 servers and adds R messages a second to the
engine's capture, in small batches every 10 ms: they reach the window the way
real ones do (capture bus -> bridge queue -> Qt timer -> models). Measured:

- stall: a 10 ms heartbeat QTimer on the Qt thread records the largest gap
  between its ticks, from the first message until every row is in (goal < 100 ms);
- rows: the inspector's rows at the end (goal: all of them);
- memory: the process's resident set at its peak (VmHWM; goal < 400 MB);
- filter: typing a filter into the inspector (one connection, one page, nothing,
  then cleared), up to the window painted again (goal < 200 ms each);
- scroll: the sequence diagram at every row, 100 pages up from the end then 100
  jumps to random rows, each painted (goal: worst < 50 ms).

The bridge samples as the app's does (``SAMPLE_ABOVE``): only a load test's
clients are sampled (1 message in K above 300 of theirs a second), so this traffic,
which is not a load test's, must reach the window whole: every row, with the
shipped settings. ``--no-sampling`` turns the bridge's sampling off altogether.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STALL_GOAL_MS = 100.0
RSS_GOAL_MB = 400.0
FILTER_GOAL_MS = 200.0
SCROLL_GOAL_MS = 50.0
CLIENTS = ("127.0.0.1:50001", "127.0.0.1:50002", "127.0.0.1:50003", "127.0.0.1:50004")
SERVERS = ("127.0.0.1:8080", "127.0.0.1:8081")
FILTERS = ("c3", "/page/4242", "no such thing", "")


def _rss_mb() -> dict[str, float]:
    """The resident set now and at its peak (MB), from /proc."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return {"now": out.get("VmRSS", 0.0), "peak": out.get("VmHWM", 0.0)}


async def produce(capture: Any, rate: int, seconds: float) -> int:
    """On the engine thread: ``rate`` messages a second for ``seconds``, into ``capture``."""
    from lab.model import Piece, Sender, Transport

    conns = [capture.open(protocol="http", transport=Transport.TCP,
                          client=CLIENTS[n % 4], server=SERVERS[n % 2]) for n in range(10)]
    total, sent, began = int(rate * seconds), 0, time.monotonic()
    while sent < total:
        due = min(total, int((time.monotonic() - began) * rate) + 1)
        for n in range(sent, due):
            conn = conns[n // 2 % 10]
            if n % 2 == 0:
                raw = f"GET /page/{n} HTTP/1.1\r\nHost: {conn.server}\r\n\r\n".encode()
                piece = Piece(sender=Sender.CLIENT, time=time.time(), raw=raw, size=len(raw),
                              summary=f"GET /page/{n}",
                              fields=(("method", "GET"), ("target", f"/page/{n}"),
                                      ("Host", conn.server)))
            else:
                raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                piece = Piece(sender=Sender.SERVER, time=time.time(), raw=raw, size=len(raw),
                              summary="200 OK (5 bytes)",
                              fields=(("status", 200), ("reason", "OK"),
                                      ("Content-Length", "5")))
            capture.add(conn, piece)
        sent = due
        await asyncio.sleep(0.01)
    for conn in conns:
        capture.close(conn.id)
    return sent


class Heartbeat:
    """A QTimer ticking every ``ms``; ``worst`` is the largest gap between ticks (s)."""

    def __init__(self, ms: int = 10) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.worst = 0.0
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(ms)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last)
        self._last = now

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        return self.worst


async def _until(done: Any, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the window never caught up")
        await asyncio.sleep(0.02)


async def measure(rate: int, seconds: float, sampling: bool) -> dict[str, Any]:
    """Build the app, feed it, then filter and scroll; the figures as a dict."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from ui.bridge import SAMPLE_ABOVE, EngineBridge
    from ui.engine_thread import EngineThread
    from ui.mainwindow import MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    lab = EngineThread()
    bridge = EngineBridge(lab.engine.capture,  # as ui.app makes it, unless --no-sampling
                          sample_above=SAMPLE_ABOVE if sampling else None)
    lab.start()
    folder = tempfile.mkdtemp(prefix="cslab-bench-")
    settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(lab, bridge, server_port=0, settings=settings)
    window.resize(1280, 800)
    window.show()
    await asyncio.sleep(0.5)
    total = int(rate * seconds)
    res: dict[str, Any] = {"rate": rate, "seconds": seconds, "messages": total,
                           "sampling": sampling, "rss_mb_start": _rss_mb()["now"]}
    beat = Heartbeat(10)
    began = time.perf_counter()
    sent = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
        produce(lab.engine.capture, rate, seconds), lab.loop))
    res["produce_s"] = time.perf_counter() - began
    await _until(lambda: bridge.message_count >= sent)
    await asyncio.sleep(0.2)  # the last batch painted
    res["stall_ms"] = beat.stop() * 1000
    res["rows"] = window.model.rowCount()
    res["counted"] = bridge.message_count
    res["sampled_out"] = bridge.sampled_out
    res["count_label"] = window.inspector.count_label.text()
    res["rss_mb"] = _rss_mb()

    res["filter_ms"] = {}
    for text in FILTERS:
        began = time.perf_counter()
        window.inspector.filter_edit.setText(text)
        app.processEvents()
        window.repaint()
        res["filter_ms"][text] = (time.perf_counter() - began) * 1000
        res.setdefault("filter_rows", {})[text] = window.inspector.proxy.rowCount()

    bar = window.wire.verticalScrollBar()
    paints = []
    for value in [*range(bar.maximum(), 0, -bar.pageStep())][:100]:
        began = time.perf_counter()
        bar.setValue(value)
        window.wire.viewport().repaint()
        paints.append(time.perf_counter() - began)
    pick = random.Random(7)
    for _ in range(100):
        began = time.perf_counter()
        bar.setValue(pick.randrange(bar.maximum() + 1))
        window.wire.viewport().repaint()
        paints.append(time.perf_counter() - began)
    res["scroll_ms"] = {"worst": max(paints) * 1000, "median": statistics.median(paints) * 1000,
                        "paints": len(paints), "diagram_rows": window.diagram.row_count()}
    res["rss_mb"] = _rss_mb()
    window.close()
    bridge.close()
    lab.stop()
    return res


def _inside(rate: int, seconds: float, sampling: bool) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        res = loop.run_until_complete(measure(rate, seconds, sampling))
    print(json.dumps(res))
    sys.stdout.flush()
    os._exit(0)  # the figures are out; skip Qt's teardown


def judge(res: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Rows of (what, measured, goal, met)."""
    filters = res["filter_ms"]
    worst_filter = max(filters.values())
    rows = [
        (f"worst Qt stall, {res['rate']:,} msg/s for {res['seconds']:g} s",
         f"{res['stall_ms']:.1f} ms", f"< {STALL_GOAL_MS:.0f} ms",
         res["stall_ms"] < STALL_GOAL_MS),
        ("rows in the inspector" + (" (app's sampling)" if res["sampling"]
                                    else " (sampling off)"),
         f"{res['rows']:,} of {res['counted']:,}", "all", res["rows"] == res["messages"]),
        ("resident memory, peak", f"{res['rss_mb']['peak']:.0f} MB",
         f"< {RSS_GOAL_MB:.0f} MB", res["rss_mb"]["peak"] < RSS_GOAL_MB),
    ]
    for text, ms in filters.items():
        shown = res["filter_rows"][text]
        rows.append((f"filter {text!r} ({shown:,} rows) + paint", f"{ms:.1f} ms",
                     f"< {FILTER_GOAL_MS:.0f} ms", ms < FILTER_GOAL_MS))
    scroll = res["scroll_ms"]
    rows.append((f"diagram scroll at {scroll['diagram_rows']:,} rows, {scroll['paints']} "
                 f"paints (median {scroll['median']:.1f} ms)", f"{scroll['worst']:.1f} ms",
                 f"< {SCROLL_GOAL_MS:.0f} ms", scroll["worst"] < SCROLL_GOAL_MS))
    res["met"] = all(r[3] for r in rows) and worst_filter < FILTER_GOAL_MS
    return rows


def table(rows: list[tuple[str, str, str, bool]]) -> str:
    cells = [("GUI under load (real bridge, real window, offscreen)", "measured", "goal", "met"),
             *[(a, b, c, "yes" if d else "NO") for a, b, c, d in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(4)) for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def run_bench(rate: int = 10_000, seconds: float = 10.0,
              sampling: bool = True) -> dict[str, Any]:
    """The figures, measured in a subprocess on Qt's offscreen platform."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "tests.perf.gui_load_bench", "--inside",
               "--rate", str(rate), "--seconds", str(seconds)]
    done = subprocess.run([*command, *([] if sampling else ["--no-sampling"])], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"gui load bench failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.gui_load_bench",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-sampling", dest="sampling", action="store_false",
                        help="turn the bridge's sampling off (the app samples load "
                             "clients only, 1 in K above 300/s)")
    parser.add_argument("-o", "--output", help="also write the figures to this JSON file")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        return _inside(args.rate, args.seconds, args.sampling)
    res = run_bench(args.rate, args.seconds, args.sampling)
    print(table(judge(res)))
    if args.output:
        Path(args.output).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
