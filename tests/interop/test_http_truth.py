"""The HTTP capture says what crossed, with real clients (issue 16, items 1, 4, 7, 8).

``cslab serve http`` as a real process with ``--capture``; curl, ab, nc and raw
sockets talk to it; each test compares what the client sent and got with the
Messages of the capture (summaries, flags, order, count).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from lab.servers.http import start_http
from tests.interop.test_http_curl import Lab, lab  # noqa: F401  (the fixture)
from tests.lab.helpers import run

needs = {tool: pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed")
         for tool in ("curl", "ab", "nc")}
Record = dict[str, object]


def whole_lines(lab: Lab) -> list[str]:  # noqa: F811
    """The capture's lines written so far, whole: the server may be writing the last one
    as the test reads it."""
    text = lab.capture.read_text(encoding="utf-8")
    return text[:text.rfind("\n") + 1].splitlines()


def start(lab: Lab) -> int:  # noqa: F811
    """Where the capture is now: the next test's records come after."""
    return len(whole_lines(lab))


def conversation(lab: Lab, since: int, connections: int = 1,  # noqa: F811
                 timeout: float = 15.0) -> list[Record]:
    """The messages after ``since``, once ``connections`` connections opened since
    then have closed."""
    deadline = time.monotonic() + timeout
    while True:
        lines = whole_lines(lab)[since:]
        records = [json.loads(line) for line in lines]
        closed = sum(r.get("type") == "close" for r in records)
        if closed >= connections or time.monotonic() > deadline:
            assert closed >= connections, f"{closed} of {connections} connections closed"
            return [r for r in records if r.get("type") == "message"]
        time.sleep(0.05)


def said(messages: list[Record]) -> list[str]:
    return [str(m["summary"]) for m in messages]


def flawless(messages: list[Record]) -> bool:
    return not any(m["truncated"] or m["malformed"] for m in messages)


# -- item 1: HTTP/1.0 keep-alive -----------------------------------------------------------


@needs["curl"]
def test_curl_http10_keep_alive_two_exchanges_on_one_connection(lab: Lab) -> None:  # noqa: F811
    since = start(lab)
    done = subprocess.run(
        ["curl", "-sS", "--http1.0", "-H", "Connection: keep-alive",
         "-w", "%{http_code} %{num_connects}\n", "-o", "/dev/null", "-o", "/dev/null",
         f"{lab.base}/", f"{lab.base}/style.css"],
        capture_output=True, text=True, timeout=20, check=True)
    assert done.stdout.split("\n")[:2] == ["200 1", "200 0"]  # the second reused it
    messages = conversation(lab, since)
    assert said(messages) == ["GET /", "200 OK", "GET /style.css", "200 OK"]
    assert flawless(messages) and len({m["connection"] for m in messages}) == 1
    css = messages[3]["raw"]
    assert isinstance(css, str) and b"navy" in base64.b64decode(css)


@needs["ab"]
def test_ab_keep_alive_twenty_of_twenty(lab: Lab) -> None:  # noqa: F811
    since = start(lab)
    done = subprocess.run(["ab", "-k", "-n", "20", f"{lab.base}/"], capture_output=True,
                          text=True, timeout=60, check=True)
    assert re.search(r"Complete requests:\s+20\b", done.stdout)
    assert re.search(r"Failed requests:\s+0\b", done.stdout)
    kept = re.search(r"Keep-Alive requests:\s+(\d+)", done.stdout)
    assert kept is not None
    connections = 20 - int(kept[1]) + 1
    messages = conversation(lab, since, connections)
    assert said(messages) == ["GET /", "200 OK"] * 20
    assert flawless(messages)


# -- item 4: a client that half-closes gets its answer ----------------------------------

REQUEST10 = b"GET / HTTP/1.0\r\n\r\n"


def nc_half_close(port: int, data: bytes) -> bytes:
    done = subprocess.run(["nc", "-q1", "127.0.0.1", str(port)], input=data,
                          capture_output=True, timeout=20, check=False)
    return done.stdout


@needs["nc"]
def test_nc_half_close_through_the_wire(lab: Lab) -> None:  # noqa: F811
    since = start(lab)
    got = nc_half_close(lab.port, REQUEST10)
    assert got.startswith(b"HTTP/1.0 200 OK\r\n") and b"<h1>Home</h1>" in got
    messages = conversation(lab, since)
    assert said(messages) == ["GET /", "200 OK"] and flawless(messages)
    raw = base64.b64decode(str(messages[1]["raw"]))
    assert raw == got


@needs["nc"]
def test_nc_half_close_pipelined_directly_to_the_server(tmp_path: Path) -> None:
    """The server alone (no Wire): both pipelined requests are answered after the FIN."""
    two = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n"

    async def main() -> tuple[bytes, bytes]:
        backend = await start_http({"db": str(tmp_path / "notes.sqlite3")})
        try:
            port = backend.address[1]
            return (await asyncio.to_thread(nc_half_close, port, REQUEST10),
                    await asyncio.to_thread(nc_half_close, port, two))
        finally:
            await backend.close()

    one, both = run(main, timeout=60)
    assert one.startswith(b"HTTP/1.0 200 OK\r\n")
    assert both.count(b"HTTP/1.1 200 OK\r\n") == 2


def test_a_half_close_in_the_middle_of_a_body_ends_the_connection(tmp_path: Path) -> None:
    """A client that half-closes before its body is all there can never be answered:
    the server closes at once (it must not wait for the rest for ever)."""
    cut = (b"POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 100\r\n\r\n{\"title\": ")

    def half_close(port: int) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(cut)
            sock.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := sock.recv(65536):  # the server's close ends this (or 10 s)
                got += chunk
            return got

    async def main() -> bytes:
        backend = await start_http({"db": str(tmp_path / "notes.sqlite3")})
        try:
            return await asyncio.to_thread(half_close, backend.address[1])
        finally:
            await backend.close()

    assert not run(main, timeout=60).startswith(b"HTTP/1.1 2")  # closed, nothing created


# -- item 7: 100-continue ----------------------------------------------------------------


@needs["curl"]
def test_curl_expect_100_continue_refused_with_405(lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    big = tmp_path / "big"
    big.write_bytes(b"x" * 300_000)
    since = start(lab)
    done = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                           "-H", "Expect: 100-continue", "--data-binary", f"@{big}",
                           f"{lab.base}/"], capture_output=True, text=True, timeout=30,
                          check=True)
    assert done.stdout == "405"
    messages = conversation(lab, since)
    assert said(messages)[:3] == ["POST /", "100 Continue", "405 Method Not Allowed"]
    assert not messages[0]["truncated"] and not messages[0]["malformed"]
    assert all(m["sender"] == "client" for m in messages[3:])  # a body curl sent anyway
    ids = [int(str(m["id"])) for m in messages]
    assert ids == sorted(ids)


@needs["curl"]
def test_curl_expect_100_continue_body_after_the_interim(lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    note = tmp_path / "note.json"
    note.write_text(json.dumps({"title": f"long {time.time()}", "body": "y" * 200_000}))
    since = start(lab)
    done = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                           "-H", "Expect: 100-continue", "-H", "Content-Type: application/json",
                           "--data-binary", f"@{note}", f"{lab.base}/api/notes"],
                          capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout == "201"
    messages = conversation(lab, since)
    size = note.stat().st_size
    assert said(messages) == ["POST /api/notes", "100 Continue",
                              f"body of POST /api/notes: {size} bytes", "201 Created"]
    assert not messages[0]["truncated"] and not any(m["malformed"] for m in messages)


# -- item 8: what the server did not see as a request ------------------------------------

_TAIL = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
_CASES = {
    "CL then TE": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + _TAIL,
    "TE then CL": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Length: 3\r\n\r\n" + _TAIL,
    "TE obs-fold": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + _TAIL,
    "TE trailing tab": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\t\r\n\r\n"
                       + _TAIL,
    "TE gzip, chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                        + _TAIL,
    "TE tab before value": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n"
                           + _TAIL,
    "TE trailing space": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked \r\n\r\n"
                         + _TAIL,
    "h2c": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
           b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
           b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "websocket": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
}


def exchange(port: int, data: bytes, answers: int) -> bytes:
    """Send ``data``; read until the server closes or ``answers`` status lines came."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if len(re.findall(rb"HTTP/1\.[01] \d\d\d ", got)) >= answers:
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    return got


@pytest.mark.parametrize("case", list(_CASES))
def test_capture_agrees_with_the_server_on_message_boundaries(lab: Lab, case: str) -> None:  # noqa: F811
    since = start(lab)
    got = exchange(lab.port, _CASES[case], answers=2)
    statuses = [s.decode() for s in re.findall(rb"HTTP/1\.[01] (\d\d\d [^\r]*)\r\n", got)]
    messages = conversation(lab, since)
    answers = [m for m in messages if m["sender"] == "server"]
    requests = [m for m in messages if m["sender"] == "client" and not m["malformed"]]
    assert said(answers) == statuses, case
    refused = [s for s in statuses if s.startswith(("400 ", "501 "))]
    assert len(requests) == len(statuses) - len(refused), (case, said(messages), statuses)
    if refused:  # what the server refused is shown, as not a request
        assert messages[0]["malformed"] and messages[0]["sender"] == "client"
    if not any("smuggled" in s for s in said(requests)):
        assert any(m["malformed"] for m in messages)
    sent = b"".join(base64.b64decode(str(m["raw"]))
                    for m in messages if m["sender"] == "client")
    assert sent == _CASES[case]


def test_absolute_form_target_is_served(lab: Lab) -> None:  # noqa: F811
    since = start(lab)
    target = f"http://127.0.0.1:{lab.port}/style.css"
    got = exchange(lab.port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\n"
                   f"Connection: close\r\n\r\n".encode(), answers=2)  # until it closes
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"body { color: navy; }" in got
    messages = conversation(lab, since)
    assert said(messages) == [f"GET {target}", "200 OK"] and flawless(messages)
