"""HAR from real traffic: curl (a chunked upload, Expect: 100-continue answered 405, a
download bigger than the capture keeps) and websockets' client through an in-process
Engine, captured as JSON Lines and exported by ``cslab export`` as a subprocess; every
HAR is checked against HAR 1.2 (tests/lab/test_har.py: check_har)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from lab.capture_lines import JsonLinesWriter
from lab.engine import Engine
from lab.model import RAW_LIMIT
from tests.interop.test_export import cslab
from tests.lab.helpers import run
from tests.lab.test_har import check_har

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

Json = dict[str, Any]
Scenario = Callable[[Engine, Path], Awaitable[None]]


def captured(tmp_path: Path, scenario: Scenario) -> Path:
    """Run ``scenario`` against a fresh Engine; the path of its JSON Lines capture."""
    path = tmp_path / "capture.jsonl"

    async def main() -> None:
        engine = Engine()
        with open(path, "w", encoding="utf-8") as stream:
            engine.capture.subscribe(JsonLinesWriter(stream))
            try:
                await scenario(engine, tmp_path)
            finally:
                await engine.shutdown()

    run(main, timeout=60)
    return path


def exported(capture: Path) -> list[Json]:
    out = capture.with_suffix(".har")
    done = cslab("export", str(capture), "--format", "har", "-o", str(out))
    assert done.returncode == 0, done.stderr
    return check_har(json.loads(out.read_text(encoding="utf-8")))


async def http_server(engine: Engine, tmp_path: Path) -> str:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "index.html").write_text("<html>hi</html>", encoding="utf-8")
    server = await engine.add_server("http", port=0, options={
        "root": str(site), "db": str(tmp_path / "notes.sqlite3")})
    return f"http://{server.address}"


async def curl(*args: str) -> str:
    """Run curl; what it printed for ``-w`` (the status code)."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "--silent", "--show-error", "--max-time", "20", "-w", "%{http_code}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


@needs_curl
def test_a_chunked_upload_is_written_without_its_chunk_framing(tmp_path: Path) -> None:
    body = json.dumps({"title": "sent in chunks", "body": "ü" * 3000}).encode()
    (tmp_path / "note.json").write_bytes(body)

    async def scenario(engine: Engine, tmp: Path) -> None:
        base = await http_server(engine, tmp)
        status = await curl("-o", os.devnull, "-H", "Transfer-Encoding: chunked",
                            "-H", "Content-Type: application/json",
                            "--data-binary", f"@{tmp / 'note.json'}", base + "/api/notes")
        assert status == "201"

    [entry] = exported(captured(tmp_path, scenario))
    request = entry["request"]
    assert [h["value"] for h in request["headers"] if h["name"] == "Transfer-Encoding"] \
        == ["chunked"]
    assert request["postData"]["text"] == body.decode()
    assert request["bodySize"] > len(body)  # the framing crossed too
    assert "comment" not in request["postData"]
    assert entry["response"]["status"] == 201
    assert json.loads(entry["response"]["content"]["text"])["title"] == "sent in chunks"


@needs_curl
def test_a_download_the_capture_cut_says_how_much_it_kept(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    got = tmp_path / "got.bin"

    async def scenario(engine: Engine, tmp: Path) -> None:
        base = await http_server(engine, tmp)
        (tmp / "site" / "big.bin").write_bytes(data)
        assert await curl("-o", str(got), base + "/big.bin") == "200"

    [entry] = exported(captured(tmp_path, scenario))
    assert got.read_bytes() == data  # all of it reached curl
    response = entry["response"]
    content = response["content"]
    kept = RAW_LIMIT - response["headersSize"]
    assert content["size"] == 200_000 and response["bodySize"] == 200_000
    assert content["encoding"] == "base64"
    assert base64.b64decode(content["text"]) == data[:kept]
    assert content["comment"] == f"truncated in the capture: {kept:,} of 200,000 bytes kept"


@needs_curl
def test_expect_100_continue_answered_405_is_paired_with_its_405(tmp_path: Path) -> None:
    (tmp_path / "form.txt").write_text("a=1&b=2", encoding="utf-8")

    async def scenario(engine: Engine, tmp: Path) -> None:
        base = await http_server(engine, tmp)
        status = await curl("-o", os.devnull, "-H", "Expect: 100-continue",
                            "--data-binary", f"@{tmp / 'form.txt'}", base + "/")
        assert status == "405"

    [entry] = exported(captured(tmp_path, scenario))
    assert entry["request"]["method"] == "POST"
    response = entry["response"]
    assert response["status"] == 405, response
    assert response["statusText"] == "Method Not Allowed"
    assert "405 Method Not Allowed" in response["content"]["text"]
    assert [i["status"] for i in response["_interim"]] == [100]  # what curl was told first
    assert response["comment"] == "after 100 Continue"


@needs_curl
def test_a_body_sent_after_100_continue_is_the_request_s_post_data(tmp_path: Path) -> None:
    body = json.dumps({"title": "after continue"}).encode()
    (tmp_path / "note.json").write_bytes(body)

    async def scenario(engine: Engine, tmp: Path) -> None:
        base = await http_server(engine, tmp)
        status = await curl("-o", os.devnull, "-H", "Expect: 100-continue",
                            "-H", "Transfer-Encoding: chunked",
                            "-H", "Content-Type: application/json",
                            "--data-binary", f"@{tmp / 'note.json'}", base + "/api/notes")
        assert status == "201"

    [entry] = exported(captured(tmp_path, scenario))
    assert entry["request"]["postData"]["text"] == body.decode()
    response = entry["response"]
    assert response["status"] == 201
    assert json.loads(response["content"]["text"])["title"] == "after continue"
    assert [i["status"] for i in response["_interim"]] == [100]


def test_a_websocket_chat_is_an_entry_with_its_frames(tmp_path: Path) -> None:
    async def scenario(engine: Engine, tmp: Path) -> None:
        server = await engine.add_server("ws", port=0)
        async with connect(f"ws://{server.address}/?name=ann", proxy=None,
                           compression=None, open_timeout=10) as chat:
            assert await chat.recv() == "* here now: ann"
            assert await chat.recv() == "* ann joined"
            await chat.send("héllo")
            assert await chat.recv() == "ann: héllo"
            await chat.send(b"\x00\x01\xfe")
            await chat.close(1000, "bye")

    [entry] = exported(captured(tmp_path, scenario))
    assert entry["request"]["url"].endswith("/?name=ann")
    assert entry["response"]["status"] == 101
    assert entry["_resourceType"] == "websocket"
    frames = entry["_webSocketMessages"]
    said = [(f["type"], f["opcode"], f["data"]) for f in frames if f["opcode"] == 1]
    assert said == [("receive", 1, "* here now: ann"), ("receive", 1, "* ann joined"),
                    ("send", 1, "héllo"), ("receive", 1, "ann: héllo")]
    binary = [f for f in frames if f["opcode"] == 2]
    assert [(f["type"], base64.b64decode(f["data"])) for f in binary][:1] == \
        [("send", b"\x00\x01\xfe")]
    close = next(f for f in frames if f["opcode"] == 8)
    assert close["type"] == "send" and close["_closeCode"] == 1000 and close["data"] == "bye"
    times = [f["time"] for f in frames]
    assert times == sorted(times) and all(isinstance(t, float) for t in times)


def test_a_capture_with_no_http_fails_to_export_as_har(tmp_path: Path) -> None:
    async def scenario(engine: Engine, tmp: Path) -> None:
        server = await engine.add_server("tcp-echo", port=0)
        host, port = server.address.rsplit(":", 1)

        def talk() -> bytes:
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"hello")
                return sock.recv(5)

        assert await asyncio.to_thread(talk) == b"hello"

    capture = captured(tmp_path, scenario)
    assert '"type": "message"' in capture.read_text(encoding="utf-8")  # echo was captured
    out = tmp_path / "out.har"
    done = cslab("export", str(capture), "--format", "har", "-o", str(out))
    assert done.returncode != 0
    assert f"no HTTP messages in {capture}: nothing to write as HAR" in done.stderr
    assert not out.exists() and "wrote" not in done.stdout
