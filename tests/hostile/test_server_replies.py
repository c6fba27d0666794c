"""What a hostile line gets back from a server, and that it leaves no traceback on the
server's terminal (lab/servers/ftp.py, lab/servers/http.py)."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.hostile.served import HOST, Served


def _talk(port: int, lines: list[bytes]) -> list[bytes]:
    """Send each line, read one reply line after each (b"" once closed)."""
    replies = []
    with socket.create_connection((HOST, port), timeout=10) as sock:
        stream = sock.makefile("rb")
        stream.readline()  # the greeting
        for line in lines:
            try:
                sock.sendall(line)
                replies.append(stream.readline())
            except ConnectionError:
                replies.append(b"")
    return replies


def test_ftp_answers_bad_utf8_and_an_overlong_line_and_keeps_quiet(tmp_path: Path) -> None:
    served = Served("ftp", tmp_path, max_total=0)
    try:
        replies = _talk(served.port, [b"\xff\xfe\xc3\x28 x\r\n", b"NOOP\r\n",
                                      b"A" * 200_000 + b"\r\n", b"NOOP\r\n"])
        assert replies[0].startswith(b"502 "), replies  # unknown command, session goes on
        assert replies[1].startswith(b"200"), replies
        assert replies[2] == b"500 command line too long: closing the connection\r\n"
        assert replies[3] == b""
        assert served.quiet()
        summaries = [r["summary"] for r in served.records() if r["type"] == "message"]
        assert any(s.startswith("500 command line too long") for s in summaries), summaries
        assert "Traceback" not in served.stderr()
    finally:
        served.stop()


def test_http_answers_a_bad_request_400_without_a_traceback(tmp_path: Path) -> None:
    served = Served("http", tmp_path, max_total=0)
    try:
        with socket.create_connection((HOST, served.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1 \xff\xfe\r\nHost: x\r\n\r\n")
            assert sock.makefile("rb").readline() == b"HTTP/1.0 400 Bad Request\r\n"
        assert served.quiet()
        records = [r for r in served.records() if r["type"] == "message"]
        assert records[0]["malformed"] and records[0]["sender"] == "client"
        assert "Traceback" not in served.stderr()
    finally:
        served.stop()
