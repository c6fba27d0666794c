"""A flood past what the system's open-file limit lets the lab hold: the Wire refuses
with a note (lab.lan.connection_ceiling) instead of leaving clients hanging."""

from __future__ import annotations

import socket
from pathlib import Path

from lab.lan import FILES_KEPT, FILES_PER_CONNECTION
from tests.hostile import normal
from tests.hostile.served import HOST, Served

FILES = 256
FLOOD = 120


def test_a_flood_past_the_file_limit_is_refused_with_a_note_not_left_hanging(
        tmp_path: Path) -> None:
    served = Served("tcp-echo", tmp_path, max_total=0, files=FILES)
    socks: list[socket.socket] = []
    try:
        echoed = refused = hung = 0
        for _ in range(FLOOD):
            sock = socket.create_connection((HOST, served.port), timeout=5)
            socks.append(sock)
            try:
                sock.sendall(b"x")
            except ConnectionError:  # refused already: closed before the byte went
                refused += 1
                sock.close()
        for sock in socks:
            if sock.fileno() < 0:
                continue
            try:
                answer = sock.recv(1)
            except TimeoutError:
                hung += 1
            except ConnectionError:
                refused += 1
            else:
                echoed += answer == b"x"
                refused += answer == b""
        for sock in socks:
            sock.close()
        socks.clear()
        ceiling = (FILES - FILES_KEPT) // FILES_PER_CONNECTION
        assert (hung, echoed, refused) == (0, ceiling, FLOOD - ceiling)
        assert served.quiet()
        assert normal.tcp_echo(served.port) == "ping"
        notes = [r["summary"] for r in served.records()
                 if r["type"] == "message" and r["injected"]]
        assert len(notes) == FLOOD - ceiling
        assert notes[0] == (f"Wire refused {HOST}: {ceiling} connections are open in the lab, "
                            "as many as this system's open-file limit allows")
        assert served.alive
        assert "Too many open files" not in served.stderr()
    finally:
        for sock in socks:
            sock.close()
        served.stop()
