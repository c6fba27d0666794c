"""Bytes a Wire read but never delivered show on their message's row in the window
(issue 16, item 2): a client that reads 100 bytes of a big file and resets, as
`curl … | head -c 100` does, leaves its response marked, with the Wire's note."""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from lab.commands import run_sync
from lab.engine import Engine
from lab.model import Sender
from lab.wire import TcpWire
from tests.ui.test_ftp_client_state import on_engine
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.models.messages import COL_SUMMARY

WAIT = 15000
BIG = 24 * 1024 * 1024  # more than the kernel's buffers on both ends hold

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the Wire reads what crossed from Linux's TCP_INFO")


def blocked(engine: Engine, node: str) -> bool:
    """The node's Wire cannot write on to its client: the client's window is full (run
    on the engine's loop)."""
    return any(link.client.transport is not None
               and link.client.transport.get_write_buffer_size() > 0
               for wire in engine.routing.wires_of(node) if isinstance(wire, TcpWire)
               for link in wire.links)


def test_a_response_cut_by_the_client_says_what_never_reached_it(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "big.bin").write_bytes(b"b" * BIG)
    task = spawn(window.lab.call(window.lab.engine.add_server, "http", port=0, options={
        "root": str(site), "db": str(tmp_path / "notes.sqlite3")}))
    qtbot.waitUntil(task.done, timeout=WAIT)
    port = int(task.result().address.rpartition(":")[2])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: lab.test\r\n\r\n")
        got = b""
        while len(got) < 100:
            got += sock.recv(100 - len(got))
        # close once the Wire holds bytes it cannot write to us (our window is full)
        engine, node = window.lab.engine, task.result().id
        qtbot.waitUntil(lambda: on_engine(window, qtbot, run_sync, blocked, engine, node),
                        timeout=WAIT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    model = window.model

    def rows() -> list[str]:
        return [str(model.data_at(row, COL_SUMMARY, int(Qt.ItemDataRole.DisplayRole)))
                for row in range(model.rowCount())]

    qtbot.waitUntil(lambda: any("never delivered" in row for row in rows()), timeout=WAIT)
    marked = [m for m in (model.message(r) for r in range(model.rowCount())) if m.undelivered]
    assert [m.sender for m in marked] == [Sender.SERVER]
    assert f"[{marked[0].undelivered:,} B never delivered]" in rows()[1]
    assert any("were never delivered: the client had closed" in row for row in rows())
