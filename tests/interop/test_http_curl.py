"""cslab serve http as a real process, talked to by curl, urllib.request and http.client."""

from __future__ import annotations

import base64
import http.client
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.test_cli import port_is_free, records

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"TOP-SECRET-beef"
DATA = bytes(range(256))

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@dataclass
class Lab:
    proc: subprocess.Popen[str]
    lines: queue.Queue[str]
    port: int
    base: str
    capture: Path
    data: Path

    def expect(self, *needles: str, timeout: float = 5.0) -> list[str]:
        """Read stdout lines until each needle was seen, in order, in some line."""
        seen: list[str] = []
        wanted = list(needles)
        deadline = time.monotonic() + timeout
        while wanted:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"never printed {wanted!r}; saw {seen!r}") from None
            seen.append(line)
            if wanted[0] in line:
                wanted.pop(0)
        return seen

    def drain(self) -> None:
        while True:
            try:
                self.lines.get_nowait()
            except queue.Empty:
                return


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("http")
    (tmp / "secret.txt").write_bytes(SECRET)
    site = tmp / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>Home</h1>\n", encoding="utf-8")
    (site / "style.css").write_text("body { color: navy; }\n", encoding="utf-8")
    (site / "data.bin").write_bytes(DATA)
    (site / "leak.txt").symlink_to(tmp / "secret.txt")
    capture = tmp / "cap.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CSLAB_DATA_DIR": str(tmp / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "serve", "http", "--port", "0", "--root", str(site),
         "--capture", str(capture)],
        cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        try:
            first = lines.get(timeout=10)
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"cslab did not start: {proc.communicate()[1]}") from None
        assert first.startswith("listening on 127.0.0.1:"), first
        port = int(first.rpartition(":")[2])
        yield Lab(proc, lines, port, f"http://127.0.0.1:{port}", capture, tmp / "data")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert port_is_free(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def curl(*args: str) -> tuple[int, dict[str, str], bytes]:
    """Run curl; return the final status, its headers (lower-cased) and the body."""
    dump = [] if "-I" in args else ["-D", "-"]  # -I prints the headers itself
    done = subprocess.run(["curl", "-sS", *dump, *args], capture_output=True, timeout=10,
                          check=False)
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


@needs_curl
def test_curl_get_head_range_and_conditional_get(lab: Lab) -> None:
    lab.drain()
    status, headers, body = curl(f"{lab.base}/style.css")
    assert status == 200 and body == b"body { color: navy; }\n"
    assert headers["content-type"] == "text/css; charset=utf-8"
    lab.expect("GET /style.css", "200 OK")

    status, headers, body = curl("-I", f"{lab.base}/data.bin")
    assert status == 200 and body == b"" and headers["content-length"] == "256"
    assert headers["accept-ranges"] == "bytes"
    lab.expect("HEAD /data.bin", "200 OK")

    status, headers, body = curl("-r", "0-9", f"{lab.base}/data.bin")
    assert status == 206 and body == DATA[:10]
    assert headers["content-range"] == "bytes 0-9/256"
    lab.expect("GET /data.bin", "206 Partial Content")

    etag = curl("-I", f"{lab.base}/index.html")[1]["etag"]
    status, headers, body = curl("-H", f"If-None-Match: {etag}", f"{lab.base}/index.html")
    assert status == 304 and body == b"" and headers["etag"] == etag
    lab.expect("GET /index.html", "304 Not Modified")
    assert curl("-H", 'If-None-Match: "stale"', f"{lab.base}/index.html")[0] == 200


@needs_curl
def test_curl_post_put_delete_json(lab: Lab) -> None:
    lab.drain()
    status, headers, body = curl("-X", "POST", "-H", "Content-Type: application/json",
                                 "--data", '{"title": "from curl", "body": "hi"}',
                                 f"{lab.base}/api/notes")
    assert status == 201
    note = json.loads(body)
    assert note["title"] == "from curl" and headers["location"] == f"/api/notes/{note['id']}"
    lab.expect("POST /api/notes", "201 Created")

    status, _, body = curl("-X", "PUT", "-H", "Content-Type: application/json",
                           "--data", '{"title": "from curl, again"}',
                           f"{lab.base}{headers['location']}")
    assert status == 200 and json.loads(body)["title"] == "from curl, again"
    lab.expect(f"PUT /api/notes/{note['id']}", "200 OK")

    status, _, body = curl("-X", "DELETE", f"{lab.base}/api/notes/{note['id']}")
    assert status == 204 and body == b""
    lab.expect(f"DELETE /api/notes/{note['id']}", "204 No Content")

    status, _, body = curl(f"{lab.base}/api/notes/{note['id']}")
    assert status == 404 and json.loads(body)["error"] == "no such note"
    status, _, body = curl("-X", "POST", "--data", "title=x", f"{lab.base}/api/notes")
    assert status == 415 and "application/json" in json.loads(body)["detail"]
    assert (lab.data / "notes.sqlite3").is_file()  # the default db, in CSLAB_DATA_DIR


@needs_curl
def test_curl_path_as_is_cannot_leave_the_root(lab: Lab) -> None:
    for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt",
                   "/x/..%2f..%2fsecret.txt", "/leak.txt", "//etc/passwd", "/%00"):
        done = subprocess.run(["curl", "-sS", "-i", "--path-as-is", f"{lab.base}{target}"],
                              capture_output=True, timeout=10, check=False)
        assert done.returncode == 0, done.stderr
        status = int(done.stdout.split(b" ", 2)[1])
        assert status in (403, 404), (target, status)
        assert SECRET not in done.stdout and b"root:x:" not in done.stdout
    lab.expect("GET /../secret.txt", "403 Forbidden")


def test_urllib_request_get_post_and_errors(lab: Lab) -> None:
    lab.drain()
    with urllib.request.urlopen(f"{lab.base}/", timeout=5) as reply:
        assert reply.status == 200 and reply.read() == b"<h1>Home</h1>\n"
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    lab.expect("GET /", "200 OK")

    ask = urllib.request.Request(f"{lab.base}/api/notes", method="POST",
                                 data=json.dumps({"title": "from urllib"}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(ask, timeout=5) as reply:
        assert reply.status == 201
        assert json.loads(reply.read())["title"] == "from urllib"
    lab.expect("POST /api/notes", "201 Created")

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(ask, timeout=5)  # the same title again
    assert caught.value.code == 409
    assert "already exists" in json.loads(caught.value.read())["detail"]
    caught.value.close()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{lab.base}/no/such/page.html", timeout=5)
    assert missing.value.code == 404 and b"no such file" in missing.value.read()
    missing.value.close()
    lab.expect("GET /no/such/page.html", "404 Not Found")


def test_http_client_keep_alive_head_and_capture(lab: Lab) -> None:
    lab.drain()
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=5)
    try:
        conn.request("GET", "/style.css")
        first = conn.getresponse()
        assert first.status == 200 and first.read() == b"body { color: navy; }\n"
        conn.request("GET", "/api/notes?limit=1")
        second = conn.getresponse()
        page = json.loads(second.read())
        assert second.status == 200 and page["limit"] == 1 and len(page["items"]) == 1
        conn.request("HEAD", "/index.html")
        head = conn.getresponse()
        assert head.status == 200 and head.read() == b""
        assert head.getheader("Content-Length") == "14"
        local = f"127.0.0.1:{conn.sock.getsockname()[1]}"
    finally:
        conn.close()
    lab.expect("GET /style.css", "GET /api/notes?limit=1", "HEAD /index.html")

    mine = [r for r in records(lab.capture, 1000, timeout=0.5) if r.get("client") == local]
    assert [r["type"] for r in mine][0] == "open"
    assert len({r["connection"] for r in mine}) == 1  # three exchanges on one connection
    raws = {s: b"".join(base64.b64decode(str(r["raw"])) for r in mine
                        if r["type"] == "message" and r["sender"] == s)
            for s in ("client", "server")}
    assert raws["client"].startswith(b"GET /style.css HTTP/1.1\r\n")
    assert raws["client"].count(b" HTTP/1.1\r\n") == 3
    assert raws["server"].startswith(b"HTTP/1.1 200 OK\r\n")
    assert raws["server"].count(b"HTTP/1.1 200 OK\r\n") == 3
    assert {r["protocol"] for r in mine} == {"http"}
    assert [r["summary"] for r in mine if r["type"] == "message"] == [
        "GET /style.css", "200 OK", "GET /api/notes?limit=1", "200 OK", "HEAD /index.html",
        "200 OK"]
