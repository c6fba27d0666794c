"""cslab export: a real HTTP conversation captured as JSON Lines, exported as HAR 1.2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lab.capture_lines import JsonLinesWriter
from lab.clients.http import HttpClient
from lab.engine import Engine
from tests.lab.helpers import run

ROOT = Path(__file__).resolve().parents[2]


def cslab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=30, check=False)


def capture_a_conversation(path: Path, db: Path) -> None:
    async def main() -> None:
        engine = Engine()
        with open(path, "w", encoding="utf-8") as stream:
            engine.capture.subscribe(JsonLinesWriter(stream))
            server = await engine.add_server("http", port=0, options={"db": str(db)})
            client = engine.client_object((await engine.add_client("http")).id)
            assert isinstance(client, HttpClient)
            base = f"http://{server.address}"
            for method, url, body in [
                ("GET", "/?lang=en", None),
                ("POST", "/api/notes", b'{"title": "exported"}'),
                ("GET", "/missing.html", None),
            ]:
                headers = [("Content-Type", "application/json")] if body else []
                result = await client.request(method, base + url, headers, body)
                assert result.ok, result.error
            await engine.shutdown()

    run(main)


def test_export_har_pairs_each_request_with_its_response(tmp_path: Path) -> None:
    capture = tmp_path / "cap.jsonl"
    capture_a_conversation(capture, tmp_path / "notes.sqlite3")
    done = cslab("export", str(capture), "--format", "har", "-o", str(tmp_path / "out.har"))
    assert done.returncode == 0, done.stderr
    assert "wrote 3 entries" in done.stdout
    log = json.loads((tmp_path / "out.har").read_text(encoding="utf-8"))["log"]
    assert log["version"] == "1.2"
    entries = log["entries"]
    got = [(e["request"]["method"], e["request"]["url"].split("/", 3)[3], e["response"]["status"])
           for e in entries]
    assert got == [("GET", "?lang=en", 200), ("POST", "api/notes", 201),
                   ("GET", "missing.html", 404)]
    first, post, missing = entries
    assert first["request"]["queryString"] == [{"name": "lang", "value": "en"}]
    assert first["response"]["content"]["mimeType"].startswith("text/html")
    assert "<html" in first["response"]["content"]["text"].lower()
    assert post["request"]["postData"]["text"] == '{"title": "exported"}'
    assert json.loads(post["response"]["content"]["text"])["title"] == "exported"
    assert post["response"]["redirectURL"].startswith("/api/notes/")  # the Location header
    assert missing["response"]["statusText"] == "Not Found"
    assert all(e["time"] >= 0 and e["startedDateTime"].endswith("+00:00") for e in entries)


def test_export_jsonl_copies_and_a_bad_capture_is_named(tmp_path: Path) -> None:
    capture = tmp_path / "cap.jsonl"
    capture_a_conversation(capture, tmp_path / "notes.sqlite3")
    copy = tmp_path / "copy.jsonl"
    done = cslab("export", str(capture), "--format", "jsonl", "-o", str(copy))
    assert done.returncode == 0, done.stderr
    assert copy.read_text(encoding="utf-8").splitlines() == \
        capture.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "open"}\nnot json\n', encoding="utf-8")
    done = cslab("export", str(bad), "--format", "har", "-o", str(tmp_path / "x.har"))
    assert done.returncode == 2
    assert "line 2" in done.stderr and "not JSON" in done.stderr
    done = cslab("export", str(tmp_path / "nope.jsonl"), "--format", "har", "-o", "x.har")
    assert done.returncode == 2 and "cannot read" in done.stderr
