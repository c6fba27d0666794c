"""The window over a capture of millions of messages (issue 17's goal: "scroll to any row
and filter it in under 1 s each").

``python -m tests.perf.view_bench [--messages N] [-o FILE]`` writes a ``.cslab`` of N
HTTP-like messages (default 5,000,000) on 20 connections, opens it in the read-only
capture window (offscreen) as ``cslab gui FILE`` does, and once every row is in:

- scroll: the time to show a row far from the newest (row 0, the middle, a random
  one): scrolled to, its cells read, painted;
- filter: the time until the filter's first rows show and until every row is
  searched (the newest rows in memory at once, the rest in the file's store), for a
  rare word and for a common one; and clearing the filter;
- the process's resident memory once every row is in.

Loopback and disk only: the file is written in a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MESSAGES = 5_000_000
CONNECTIONS = 20


def status_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_file(path: Path, count: int) -> float:
    """A .cslab of ``count`` messages: requests and their answers on CONNECTIONS
    keep-alive connections; how long it took (seconds)."""
    from lab.model import Connection, Message, Sender, Transport
    from lab.store import Stored, save

    began, now = time.perf_counter(), time.time() - count / 10_000
    conns = {f"c{n + 1}": Connection(id=f"c{n + 1}", protocol="http", transport=Transport.TCP,
                                     client=f"127.0.0.1:{40000 + n}", server="127.0.0.1:8080",
                                     opened=now, closed=now + count / 10_000)
             for n in range(CONNECTIONS)}

    def messages() -> Iterator[Message]:
        for n in range(count):
            conn = conns[f"c{(n // 2) % CONNECTIONS + 1}"]
            request = n % 2 == 0
            summary = f"GET /api/notes/{(n // 2) % 5000}" if request else "200 OK"
            raw = (f"GET /api/notes/{(n // 2) % 5000} HTTP/1.1\r\nHost: lab\r\n\r\n".encode()
                   if request else b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            fields = ((("method", "GET"), ("target", summary[4:]), ("version", "HTTP/1.1"))
                      if request else (("status", 200), ("reason", "OK")))
            yield Message(id=n + 1, time=now + n / 10_000, connection=conn.id,
                          protocol="http", sender=Sender.CLIENT if request else Sender.SERVER,
                          client=conn.client, server=conn.server, summary=summary,
                          size=len(raw), raw=raw, fields=fields)

    save(path, Stored(connections=conns), messages())
    return time.perf_counter() - began


def until(app: Any, done: Callable[[], bool], limit: float) -> float:
    """Run the Qt loop until ``done``; the seconds it took (inf past ``limit``)."""
    began = time.perf_counter()
    while not done():
        app.processEvents()
        if time.perf_counter() - began > limit:
            return float("inf")
    return time.perf_counter() - began


def measure(path: Path, count: int) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from lab.capture_read import load_for_viewing
    from ui.views.capture_file import CaptureViewer

    app = QApplication.instance() or QApplication(sys.argv)
    began = time.perf_counter()
    viewer = CaptureViewer(load_for_viewing(path), str(path))
    viewer.resize(1280, 720)
    viewer.show()
    opened = time.perf_counter() - began
    loaded = until(app, lambda: viewer.model.rowCount() >= count
                   and not viewer.loading.isActive(), 3600) + opened
    res: dict[str, Any] = {"messages": count, "open_s": round(opened, 3),
                           "all_rows_in_s": round(loaded, 1), "rss_mb": round(status_mb())}
    table, proxy = viewer.inspector.table, viewer.inspector.proxy
    scrolls = {}
    for name, row in (("row 0", 0), ("middle", count // 2),
                      ("random", random.Random(7).randrange(count)), ("row 0 again", 0)):
        began = time.perf_counter()
        index = proxy.index(row, 6)
        table.scrollTo(index)
        text = index.data()
        table.viewport().repaint()
        app.processEvents()
        scrolls[name] = round((time.perf_counter() - began) * 1000, 1)
        assert text, f"row {row} shows nothing"
    res["scroll_ms"] = scrolls
    filters = {}
    for needle in ("notes/1234 ", "200 ok"):
        began = time.perf_counter()
        proxy.set_filter_text(needle)
        app.processEvents()
        first = time.perf_counter() - began
        whole = until(app, lambda: not proxy.searching, 600) + first
        filters[needle.strip()] = {"first_s": round(first, 3), "all_s": round(whole, 2),
                                   "rows": proxy.rowCount()}
        began = time.perf_counter()
        proxy.set_filter_text("")
        app.processEvents()
        filters[needle.strip()]["cleared_s"] = round(time.perf_counter() - began, 3)
    res["filter"] = filters
    res["rss_mb_end"] = round(status_mb())
    viewer.close()
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.view_bench")
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("-o", "--output")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cslab-view-") as folder:
        path = Path(folder) / "day.cslab"
        wrote = write_file(path, args.messages)
        res = {"write_s": round(wrote, 1), **measure(path, args.messages)}
    print(json.dumps(res, indent=2))
    ok = all(v < 1000 for v in res["scroll_ms"].values()) and all(
        f["first_s"] < 1 for f in res["filter"].values())
    print(f"scroll to any row under 1 s: {'yes' if ok else 'NO'}; filter all rows: "
          + ", ".join(f"{k} {v['all_s']} s" for k, v in res["filter"].items()))
    if args.output:
        Path(args.output).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
