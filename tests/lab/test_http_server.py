"""The HTTP server behind its Wire: static files, the traversal battery, the notes API."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lab.engine import Engine, EngineError
from lab.model import Sender
from lab.paths import data_dir, site_dir
from lab.servers.http import HttpBackend, start_http
from lab.servers.http_api import MAX_BODY, NotesChange
from tests.lab.helpers import run

SECRET = b"TOP-SECRET-c0ffee"
DATA = bytes(range(256))


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse(raw: bytes) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    _, status, reason = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(status), reason, headers, body, raw)


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` as it is on a fresh connection; read the answer to EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


async def request(port: int, method: str, target: str, body: bytes | None = None,
                  headers: dict[str, str] | None = None) -> Reply:
    head = {"Host": f"127.0.0.1:{port}", "Connection": "close", **(headers or {})}
    if body is not None and "Transfer-Encoding" not in head:
        head.setdefault("Content-Length", str(len(body)))
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    return parse(await exchange(
        port, f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode("latin-1") + (body or b"")))


async def send_json(port: int, method: str, target: str, value: object) -> Reply:
    return await request(port, method, target, json.dumps(value).encode(),
                         {"Content-Type": "application/json"})


def make_site(tmp: Path) -> Path:
    """A site folder next to a secret that must never be served, with links out."""
    (tmp / "secret.txt").write_bytes(SECRET)
    site = tmp / "site"
    (site / "sub").mkdir(parents=True)
    (site / "empty").mkdir()
    (site / "index.html").write_text("<h1>Home</h1>\n", encoding="utf-8")
    (site / "style.css").write_text("body { color: navy; }\n", encoding="utf-8")
    (site / "data.bin").write_bytes(DATA)
    (site / "sub" / "index.html").write_text("<p>sub page</p>", encoding="utf-8")
    (site / "leak.txt").symlink_to(tmp / "secret.txt")
    (site / "outside").symlink_to(tmp)
    (site / "empty" / "index.html").symlink_to(tmp / "secret.txt")
    return site


@asynccontextmanager
async def serving(tmp: Path, **options: str) -> AsyncIterator[tuple[Engine, int]]:
    engine = Engine()
    opts = {"root": str(make_site(tmp)), "db": str(tmp / "notes.sqlite3"), **options}
    info = await engine.add_server("http", port=0, options=opts)
    try:
        yield engine, int(info.address.rpartition(":")[2])
    finally:
        await engine.shutdown()


# ---- static files ----------------------------------------------------------------------


def test_get_serves_files_with_their_type_and_validators_and_is_captured(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (engine, port):
            home = await request(port, "GET", "/")
            assert home.status == 200 and home.body == b"<h1>Home</h1>\n"
            assert home.headers["content-type"] == "text/html; charset=utf-8"
            assert home.headers["etag"].startswith('"')
            assert home.headers["last-modified"].endswith(" GMT")
            css = await request(port, "GET", "/style.css")
            assert css.status == 200 and css.headers["content-type"].startswith("text/css")
            data = await request(port, "GET", "/data.bin")
            assert data.body == DATA and data.headers["content-type"] == (
                "application/octet-stream")
            assert data.headers["content-length"] == "256"
            sub = await request(port, "GET", "/sub/")
            assert sub.body == b"<p>sub page</p>"
            moved = await request(port, "GET", "/sub")
            assert moved.status == 301 and moved.headers["location"] == "/sub/"

            messages = list(engine.capture.messages)
            first = [m for m in messages if m.connection == messages[0].connection]
            client = b"".join(m.raw for m in first if m.sender is Sender.CLIENT)
            server = b"".join(m.raw for m in first if m.sender is Sender.SERVER)
            assert client.startswith(b"GET / HTTP/1.1\r\n")
            assert server.startswith(b"HTTP/1.1 200 OK\r\n") and server == home.raw
            assert {m.sender for m in first} == {Sender.CLIENT, Sender.SERVER}
            assert first[0].protocol == "http"
            assert [m.summary for m in first] == ["GET /", "200 OK"]  # the HTTP dissector's
            assert first[0].server == f"127.0.0.1:{port}"

    run(main)


def test_conditional_get_answers_304_when_the_copy_is_current(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            first = await request(port, "GET", "/style.css")
            etag, modified = first.headers["etag"], first.headers["last-modified"]
            same = await request(port, "GET", "/style.css", headers={"If-None-Match": etag})
            assert same.status == 304 and same.body == b""
            assert same.headers["etag"] == etag
            listed = await request(port, "GET", "/style.css",
                                   headers={"If-None-Match": f'"other", W/{etag}'})
            assert listed.status == 304
            by_date = await request(port, "GET", "/style.css",
                                    headers={"If-Modified-Since": modified})
            assert by_date.status == 304
            other = await request(port, "GET", "/style.css", headers={"If-None-Match": '"x"'})
            assert other.status == 200 and other.body == first.body
            old = await request(port, "GET", "/style.css",
                                headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})
            assert old.status == 200 and old.body == first.body
            # If-None-Match wins over If-Modified-Since
            both = await request(port, "GET", "/style.css",
                                 headers={"If-None-Match": '"x"', "If-Modified-Since": modified})
            assert both.status == 200
            os.utime(tmp_path / "site" / "style.css", (1e9, 1e9))  # the file changed
            changed = await request(port, "GET", "/style.css", headers={"If-None-Match": etag})
            assert changed.status == 200 and changed.headers["etag"] != etag

    run(main)


def test_head_has_the_headers_of_get_and_no_body(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            head = await request(port, "HEAD", "/data.bin")
            assert head.status == 200 and head.body == b""
            assert head.headers["content-length"] == "256"
            missing = await request(port, "HEAD", "/nope.html")
            assert missing.status == 404 and missing.body == b""
            assert int(missing.headers["content-length"]) > 0

    run(main)


def test_range_requests_get_206_or_416(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            part = await request(port, "GET", "/data.bin", headers={"Range": "bytes=0-9"})
            assert part.status == 206 and part.body == DATA[:10]
            assert part.headers["content-range"] == "bytes 0-9/256"
            assert part.headers["content-length"] == "10"
            tail = await request(port, "GET", "/data.bin", headers={"Range": "bytes=-5"})
            assert tail.status == 206 and tail.body == DATA[-5:]
            rest = await request(port, "GET", "/data.bin", headers={"Range": "bytes=250-"})
            assert rest.body == DATA[250:] and rest.headers["content-range"] == "bytes 250-255/256"
            past = await request(port, "GET", "/data.bin", headers={"Range": "bytes=300-400"})
            assert past.status == 416 and past.headers["content-range"] == "bytes */256"
            assert b"256 bytes long" in past.body
            stale = await request(port, "GET", "/data.bin",
                                  headers={"Range": "bytes=0-9", "If-Range": '"old"'})
            assert stale.status == 200 and stale.body == DATA
            several = await request(port, "GET", "/data.bin", headers={"Range": "bytes=0-1,5-6"})
            assert several.status == 200 and several.body == DATA

    run(main)


def test_404_and_405_pages_explain_what_happened(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            missing = await request(port, "GET", "/nothing-here.html")
            assert missing.status == 404
            assert missing.headers["content-type"].startswith("text/html")
            assert b"/nothing-here.html" in missing.body and b"no such file" in missing.body
            assert b"Check the spelling" in missing.body
            too_long = await request(port, "GET", "/" + "a" * 300 + "/b.html")
            assert too_long.status == 404 and b"no such file" in too_long.body
            folder = await request(port, "GET", "/sub/../empty/")  # refused: '..'
            assert folder.status == 403
            os.remove(tmp_path / "site" / "empty" / "index.html")
            listing = await request(port, "GET", "/empty/")
            assert listing.status == 404 and b"does not list" in listing.body
            post = await request(port, "POST", "/index.html", b"x=1",
                                 {"Content-Type": "application/x-www-form-urlencoded"})
            assert post.status == 405 and post.headers["allow"] == "GET, HEAD"
            assert b"only reads files" in post.body and b"/api/" in post.body
            delete = await request(port, "DELETE", "/style.css")
            assert delete.status == 405 and (tmp_path / "site" / "style.css").exists()

    run(main)


TRAVERSALS = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/sub/../../secret.txt",
    "/a/..%2f..%2fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "//etc/passwd",
    "/..\\secret.txt",
    "/sub%5c..%5c..%5csecret.txt",
    "/%00",
    "/index.html%00.txt",
    "/leak.txt",
    "/outside/secret.txt",
    "/empty/",
    "/%ff%fe",
    f"/{Path('/etc/passwd').resolve()}",
]


def test_the_traversal_battery_never_leaves_the_root(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            passwd = Path("/etc/passwd").read_bytes()[:20]
            for target in TRAVERSALS:
                for method in ("GET", "HEAD"):
                    raw = await exchange(port, f"{method} {target} HTTP/1.1\r\nHost: x\r\n"
                                               "Connection: close\r\n\r\n".encode())
                    reply = parse(raw)
                    assert reply.status in (403, 404), (target, reply.status)
                    assert SECRET not in raw and passwd not in raw, target
                    if method == "GET":
                        assert reply.headers["content-type"].startswith("text/html")
                        assert b"<h1>40" in reply.body
            refused = await request(port, "GET", "/%2e%2e/secret.txt")
            assert refused.status == 403 and b"out of the site folder" in refused.body
            nul = await request(port, "GET", "/%00")
            assert b"NUL byte" in nul.body
            linked = await request(port, "GET", "/leak.txt")
            assert b"outside the site folder" in linked.body
            # and the same files are served when they are inside the root
            ok = await request(port, "GET", "/sub/../index.html".replace("/sub/..", ""))
            assert ok.status == 200

    run(main)


# ---- the notes API ---------------------------------------------------------------------


def test_the_notes_api_creates_reads_updates_and_deletes(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            index = await request(port, "GET", "/api/")
            assert index.status == 200 and index.headers["content-type"].startswith(
                "application/json")
            assert {e["path"] for e in index.json()["endpoints"]} == {
                "/api/notes", "/api/notes/{id}"}
            assert (await request(port, "GET", "/api")).json() == index.json()

            listing = (await request(port, "GET", "/api/notes")).json()
            assert listing["total"] == 3 and len(listing["items"]) == 3
            assert listing["limit"] == 20 and listing["offset"] == 0
            assert set(listing["items"][0]) == {"id", "title", "body", "created"}

            made = await send_json(port, "POST", "/api/notes", {"title": "Milk", "body": "2 l"})
            assert made.status == 201
            note = made.json()
            assert note["title"] == "Milk" and note["body"] == "2 l"
            assert made.headers["location"] == f"/api/notes/{note['id']}"
            got = await request(port, "GET", made.headers["location"])
            assert got.status == 200 and got.json() == note

            put = await send_json(port, "PUT", f"/api/notes/{note['id']}", {"title": "Oat milk"})
            assert put.status == 200
            assert put.json() == {**note, "title": "Oat milk", "body": ""}
            patch = await send_json(port, "PATCH", f"/api/notes/{note['id']}", {"body": "1 l"})
            assert patch.status == 200 and patch.json()["title"] == "Oat milk"
            assert patch.json()["body"] == "1 l"

            page = (await request(port, "GET", "/api/notes?limit=2&offset=2")).json()
            assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 2
            assert [n["id"] for n in page["items"]] == [3, note["id"]]

            gone = await request(port, "DELETE", f"/api/notes/{note['id']}")
            assert gone.status == 204 and gone.body == b""
            assert (await request(port, "GET", f"/api/notes/{note['id']}")).status == 404
            assert (await request(port, "GET", "/api/notes")).json()["total"] == 3
        # the data lives in the SQLite file and is still there for the next server
        async with serving(tmp_path / "again", db=str(tmp_path / "notes.sqlite3")) as (_, port):
            assert (await request(port, "GET", "/api/notes")).json()["total"] == 3

    (tmp_path / "again").mkdir()
    run(main)


def _error(reply: Reply, status: int, *words: str) -> None:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error", "detail"} and body["error"] and body["detail"]
    for word in words:
        assert word in body["detail"], body


def test_the_notes_api_explains_every_error_in_json(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            json_type = {"Content-Type": "application/json"}
            _error(await request(port, "POST", "/api/notes", b'{"title": ', json_type),
                   400, "not valid JSON")
            _error(await request(port, "POST", "/api/notes", b"\xff\xfe", json_type), 400)
            _error(await request(port, "GET", "/api/notes?limit=abc"), 400, "limit")
            _error(await request(port, "GET", "/api/notes?offset=-1"), 400, "offset")
            _error(await request(port, "GET", "/api/notes/999"), 404, "999")
            _error(await request(port, "GET", f"/api/notes/{10**30}"), 404)
            _error(await request(port, "DELETE", "/api/notes/999"), 404)
            _error(await send_json(port, "PUT", "/api/notes/999", {"title": "x"}), 404)
            _error(await request(port, "GET", "/api/books"), 404, "GET /api/")
            _error(await request(port, "GET", "/api/notes/abc"), 404)
            _error(await send_json(port, "POST", "/api/notes", {"title": "Welcome"}),
                   409, "Welcome")
            _error(await send_json(port, "PATCH", "/api/notes/2", {"title": "Welcome"}), 409)
            _error(await send_json(port, "PUT", "/api/notes/2", {"title": "Welcome"}), 409)
            for method, target in (("POST", "/api/notes"), ("PUT", "/api/notes/1"),
                                   ("PATCH", "/api/notes/1")):
                _error(await request(port, method, target, b'{"title": "t"}',
                                     {"Content-Type": "text/plain"}),
                       415, "application/json", "text/plain")
                _error(await request(port, method, target, b'{"title": "t"}'), 415)
            for bad in ({}, {"title": ""}, {"title": "   "}, {"title": 5},
                        {"title": "t", "body": ["x"]}, {"title": "t", "colour": "red"}, [1]):
                _error(await send_json(port, "POST", "/api/notes", bad), 422)
            _error(await send_json(port, "PUT", "/api/notes/1", {"body": "no title"}),
                   422, "title")
            _error(await send_json(port, "PATCH", "/api/notes/1", {}), 422)
            _error(await send_json(port, "PATCH", "/api/notes/1", {"title": None}), 422)
            not_allowed = await request(port, "DELETE", "/api/notes")
            _error(not_allowed, 405, "DELETE")
            assert set(not_allowed.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
            on_one = await request(port, "POST", "/api/notes/1", b"{}", json_type)
            _error(on_one, 405)
            assert "DELETE" in on_one.headers["allow"] and "POST" not in on_one.headers["allow"]
            # nothing above changed the table
            listing = (await request(port, "GET", "/api/notes")).json()
            assert [n["title"] for n in listing["items"]] == [
                "Welcome", "Try a POST", "Status codes"]

    run(main)


def test_a_body_past_the_limit_gets_a_clear_413(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, port):
            big = json.dumps({"title": "big", "body": "x" * MAX_BODY}).encode()
            declared = await request(port, "POST", "/api/notes", big,
                                     {"Content-Type": "application/json"})
            _error(declared, 413, str(MAX_BODY))
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]), big[i:i + 65536])
                              for i in range(0, len(big), 65536)) + b"0\r\n\r\n"
            chunked = await request(port, "POST", "/api/notes", chunks,
                                    {"Content-Type": "application/json",
                                     "Transfer-Encoding": "chunked"})
            _error(chunked, 413)
            assert (await request(port, "GET", "/api/notes")).json()["total"] == 3

    run(main)


def test_the_backend_shows_its_rows_and_calls_on_change_after_each_write(tmp_path: Path) -> None:
    async def main() -> None:
        backend = await start_http({"root": str(make_site(tmp_path)),
                                    "db": str(tmp_path / "n.sqlite3")})
        assert isinstance(backend, HttpBackend)
        port = backend.address[1]
        try:
            assert [r["title"] for r in backend.rows()] == ["Welcome", "Try a POST",
                                                            "Status codes"]
            seen: list[NotesChange] = []
            stop = backend.notes.watch(seen.append)

            def broken(change: NotesChange) -> None:
                raise RuntimeError("a broken listener is logged and ignored")

            backend.on_change.append(broken)
            made = (await send_json(port, "POST", "/api/notes", {"title": "Live"})).json()
            assert seen == [NotesChange("created", made["id"], made)]
            assert backend.rows()[-1] == made
            await send_json(port, "PATCH", f"/api/notes/{made['id']}", {"body": "b"})
            await send_json(port, "PUT", f"/api/notes/{made['id']}", {"title": "Live 2"})
            await send_json(port, "POST", "/api/notes", {"title": "Live 2"})  # 409: no change
            await request(port, "DELETE", f"/api/notes/{made['id']}")
            assert [(c.action, c.note_id) for c in seen] == [
                ("created", made["id"]), ("updated", made["id"]), ("replaced", made["id"]),
                ("deleted", made["id"])]
            assert seen[1].row is not None and seen[1].row["body"] == "b"
            assert seen[-1].row is None and len(backend.rows()) == 3
            stop()
            await send_json(port, "POST", "/api/notes", {"title": "Unseen"})
            assert len(seen) == 4
        finally:
            await backend.close()
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        here = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not here and "bounded" not in repr(t)]
        assert left == []  # nothing of the server is still running

    run(main)


def test_a_missing_root_fails_the_server_naming_the_folder(tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        with pytest.raises(EngineError, match="nowhere"):
            await engine.add_server("http", port=0, options={
                "root": str(tmp_path / "nowhere"), "db": str(tmp_path / "n.sqlite3")})
        await engine.shutdown()

    run(main)


def test_the_default_root_is_the_sample_site(tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        info = await engine.add_server("http", port=0, options={"db": str(tmp_path / "n.db")})
        port = int(info.address.rpartition(":")[2])
        try:
            home = await request(port, "GET", "/")
            assert home.status == 200 and b"came from the lab's web server" in home.body
            for asset, kind in (("/style.css", "text/css"), ("/logo.svg", "image/svg+xml"),
                                ("/squares.png", "image/png"), ("/about.html", "text/html")):
                assert asset[1:].encode() in home.body
                reply = await request(port, "GET", asset)
                assert reply.status == 200 and reply.headers["content-type"].startswith(kind)
        finally:
            await engine.shutdown()

    run(main)
    assert (site_dir() / "index.html").is_file()
    for image in ("logo.svg", "squares.png"):
        assert (site_dir() / image).stat().st_size < 10 * 1024
    assert (site_dir() / "squares.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_data_dir_follows_the_environment(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "client-server-lab" and data_dir().is_dir()
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir(create=False) == tmp_path / "home" / ".local/share/client-server-lab"
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine" and (tmp_path / "mine").is_dir()


def test_shutdown_with_a_keep_alive_client_is_prompt_and_frees_the_port(tmp_path: Path) -> None:
    async def main() -> None:
        engine = Engine()
        info = await engine.add_server("http", port=0, options={
            "root": str(make_site(tmp_path)), "db": str(tmp_path / "n.sqlite3")})
        port = int(info.address.rpartition(":")[2])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 OK")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await engine.shutdown()
        assert loop.time() - started < 2
        assert await asyncio.wait_for(reader.read(), 2) in (b"", b"body { color: navy; }\n")
        writer.close()
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass

    run(main)
