"""HAR 1.2 from a capture (lab/har.py): bodies without chunk framing, cut bodies said
to be cut, 1xx kept beside the final response, WebSocket frames, no empty file.

``check_har`` checks a HAR against the HAR 1.2 spec's required fields and types
(http://www.softwareishard.com/blog/har-12-spec/); every HAR written here and in
tests/interop/test_har_truth.py goes through it."""

from __future__ import annotations

import base64
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from lab.capture import Capture
from lab.dissect import make
from lab.export import ExportError, capture_records, write
from lab.har import dechunk, to_har
from lab.model import RAW_LIMIT, FieldValue, Piece, Sender, Transport

Json = dict[str, Any]

# ---- the HAR 1.2 check ------------------------------------------------------------

NUMBER = (int, float)
#: Per object of the spec: its required fields and their types.
REQUIRED: dict[str, dict[str, Any]] = {
    "log": {"version": str, "creator": dict, "entries": list},
    "creator": {"name": str, "version": str},
    "entry": {"startedDateTime": str, "time": NUMBER, "request": dict, "response": dict,
              "cache": dict, "timings": dict},
    "request": {"method": str, "url": str, "httpVersion": str, "cookies": list,
                "headers": list, "queryString": list, "headersSize": int, "bodySize": int},
    "response": {"status": int, "statusText": str, "httpVersion": str, "cookies": list,
                 "headers": list, "content": dict, "redirectURL": str, "headersSize": int,
                 "bodySize": int},
    "content": {"size": int, "mimeType": str},
    "postData": {"mimeType": str},
    "timings": {"send": NUMBER, "wait": NUMBER, "receive": NUMBER},
    "pair": {"name": str, "value": str},
}
#: Optional fields of the spec and their types (custom fields start with "_").
OPTIONAL: dict[str, dict[str, Any]] = {
    "log": {"browser": dict, "pages": list, "comment": str},
    "creator": {"comment": str},
    "entry": {"pageref": str, "serverIPAddress": str, "connection": str, "comment": str},
    "request": {"postData": dict, "comment": str},
    "response": {"comment": str},
    "content": {"compression": int, "text": str, "encoding": str, "comment": str},
    "postData": {"params": list, "text": str, "comment": str},
    "timings": {"blocked": NUMBER, "dns": NUMBER, "connect": NUMBER, "ssl": NUMBER,
                "comment": str},
    "pair": {"comment": str},
}


def _object(kind: str, value: Any, where: str) -> None:
    assert isinstance(value, dict), f"{where}: not an object"
    for name, typ in REQUIRED[kind].items():
        assert name in value, f"{where}: {name} is required"
        assert isinstance(value[name], typ) and not isinstance(value[name], bool), \
            f"{where}.{name}: {value[name]!r} is not {typ}"
    known = REQUIRED[kind] | OPTIONAL.get(kind, {})
    for name, item in value.items():
        assert name.startswith("_") or name in known, f"{where}: {name} is not in HAR 1.2"
        if name in known:
            assert isinstance(item, known[name]), f"{where}.{name}: {item!r}"


def check_har(har: Json) -> list[Json]:
    """Fail unless ``har`` is HAR 1.2 (required fields, types, no unknown non-custom
    field, times that add up); its entries."""
    assert set(har) == {"log"}
    log = har["log"]
    _object("log", log, "log")
    assert log["version"] == "1.2"
    _object("creator", log["creator"], "log.creator")
    for number, entry in enumerate(log["entries"]):
        where = f"entries[{number}]"
        _object("entry", entry, where)
        datetime.fromisoformat(entry["startedDateTime"])  # ISO 8601
        request, response, timings = entry["request"], entry["response"], entry["timings"]
        _object("request", request, f"{where}.request")
        _object("response", response, f"{where}.response")
        _object("content", response["content"], f"{where}.response.content")
        _object("timings", timings, f"{where}.timings")
        for part, items in [("request.headers", request["headers"]),
                            ("request.queryString", request["queryString"]),
                            ("response.headers", response["headers"])]:
            for item in items:
                _object("pair", item, f"{where}.{part}")
        if "postData" in request:
            post = request["postData"]
            _object("postData", post, f"{where}.request.postData")
            assert ("text" in post) != ("params" in post), "text and params are exclusive"
        assert all(timings[k] >= 0 for k in ("send", "wait", "receive"))
        spent = sum(v for k, v in timings.items() if k != "comment" and v != -1)
        assert entry["time"] == pytest.approx(spent)
        if response["content"].get("encoding") == "base64":
            base64.b64decode(response["content"]["text"], validate=True)
    return list(log["entries"])


# ---- captures made by the real dissector -------------------------------------------

def dissected(protocol: str, *steps: tuple[Sender, bytes]) -> Capture:
    """The capture of one connection whose bytes crossed as ``steps``."""
    capture = Capture()
    conn = capture.open(protocol=protocol, transport=Transport.TCP,
                        client="127.0.0.1:5000", server="127.0.0.1:8080")
    dissector = make(protocol)
    for time, (sender, data) in enumerate(steps):
        for piece in dissector.feed(sender, data, 1000.0 + time):
            capture.add(conn, piece)
    for piece in dissector.close(1000.0 + len(steps)):
        capture.add(conn, piece)
    return capture


def entries_of(capture: Capture) -> list[Json]:
    return check_har(to_har(capture_records(capture)))


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_dechunk_takes_the_data_out_of_its_framing_even_when_cut() -> None:
    framed = chunked(b"hello ", b"world")
    assert dechunk(framed) == b"hello world"
    assert dechunk(b"6;ext=1\r\nhello \r\n5\r\nwor") == b"hello wor"


def test_a_chunked_request_and_response_are_written_without_chunk_framing() -> None:
    body = b'{"title": "chunky"}'
    head = (b"POST /api/notes HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n")
    capture = dissected(
        "http",
        (Sender.CLIENT, head + chunked(body[:7], body[7:])),
        (Sender.SERVER, b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
                        b"Content-Type: text/plain\r\n\r\n" + chunked(b"made ", b"it")))
    [entry] = entries_of(capture)
    request, response = entry["request"], entry["response"]
    assert request["postData"] == {"mimeType": "application/json", "text": body.decode()}
    assert request["bodySize"] == len(chunked(body[:7], body[7:]))  # as it crossed
    assert response["content"]["text"] == "made it"
    assert response["content"]["size"] == 7
    assert response["bodySize"] == len(chunked(b"made ", b"it"))


def test_a_body_the_capture_cut_says_how_much_was_kept() -> None:
    big = os.urandom(200_000)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" \
           b"Content-Length: 200000\r\n\r\n"
    upload = b"a" * 100_000
    capture = dissected(
        "http",
        (Sender.CLIENT, b"PUT /up HTTP/1.1\r\nHost: lab\r\nContent-Length: 100000\r\n\r\n"
         + upload),
        (Sender.SERVER, head + big))
    [entry] = entries_of(capture)
    content = entry["response"]["content"]
    kept = RAW_LIMIT - len(head)
    assert content["size"] == 200_000 and entry["response"]["bodySize"] == 200_000
    assert base64.b64decode(content["text"]) == big[:kept]
    assert content["comment"] == f"truncated in the capture: {kept:,} of 200,000 bytes kept"
    post = entry["request"]["postData"]
    sent = RAW_LIMIT - (len(b"PUT /up HTTP/1.1\r\nHost: lab\r\nContent-Length: 100000") + 4)
    assert post["text"] == "a" * sent
    assert post["comment"] == f"truncated in the capture: {sent:,} of 100,000 bytes kept"


Step = tuple[Sender, str, bytes, list[tuple[str, FieldValue]]]
CONTINUE: Step = (Sender.SERVER, "100 Continue", b"HTTP/1.1 100 Continue\r\n\r\n",
                  [("status", 100), ("reason", "Continue"), ("version", "HTTP/1.1")])


def made(*steps: Step) -> Capture:
    """A capture of the messages ``steps``, one second apart, as a dissector says them."""
    capture = Capture()
    conn = capture.open(protocol="http", transport=Transport.TCP,
                        client="127.0.0.1:5000", server="127.0.0.1:8080")
    for time, (sender, summary, raw, fields) in enumerate(steps):
        capture.add(conn, Piece(sender=sender, time=float(time), summary=summary, raw=raw,
                                size=len(raw), fields=tuple(fields)))
    return capture


def test_a_final_response_after_100_continue_is_the_entry_s_and_the_100_is_kept() -> None:
    head = b"POST / HTTP/1.1\r\nHost: lab\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    refused = b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 4\r\n\r\nnope"
    capture = made(
        (Sender.CLIENT, "POST /", head, [("method", "POST"), ("target", "/"),
                                         ("version", "HTTP/1.1"), ("header: Host", "lab"),
                                         ("body length", 0)]),
        CONTINUE,
        (Sender.SERVER, "405 Method Not Allowed", refused,
         [("status", 405), ("reason", "Method Not Allowed"), ("version", "HTTP/1.1"),
          ("body length", 4), ("body", "nope")]))
    [entry] = entries_of(capture)
    response = entry["response"]
    assert response["status"] == 405 and response["content"]["text"] == "nope"
    assert [i["status"] for i in response["_interim"]] == [100]
    assert response["_interim"][0]["statusText"] == "Continue"
    assert response["comment"] == "after 100 Continue"
    assert entry["time"] == pytest.approx(2000) == entry["timings"]["wait"]
    assert "postData" not in entry["request"]  # its body was never sent


def test_a_body_sent_after_100_continue_is_the_request_s_post_data() -> None:
    """When the server answers before the body ends, the capture shows the head, the
    100, then the rest of the body as a message of its own ("body of"): HAR joins them."""
    head = (b"POST /up HTTP/1.1\r\nHost: lab\r\nExpect: 100-continue\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    body = chunked(b"hello ", b"world")
    capture = made(
        (Sender.CLIENT, "POST /up", head, [("method", "POST"), ("target", "/up"),
                                           ("version", "HTTP/1.1"), ("header: Host", "lab"),
                                           ("header: Expect", "100-continue"),
                                           ("header: Transfer-Encoding", "chunked"),
                                           ("body length", 0)]),
        CONTINUE,
        (Sender.CLIENT, "body of POST /up", body, [("body of", "POST /up"),
                                                   ("body length", 11)]),
        (Sender.SERVER, "204 No Content", b"HTTP/1.1 204 No Content\r\n\r\n",
         [("status", 204), ("reason", "No Content"), ("version", "HTTP/1.1")]))
    [entry] = entries_of(capture)
    assert entry["request"]["postData"]["text"] == "hello world"
    assert entry["request"]["bodySize"] == len(body)
    assert entry["response"]["status"] == 204
    assert [i["status"] for i in entry["response"]["_interim"]] == [100]


def frame(opcode: Opcode, data: bytes, *, mask: bool) -> bytes:
    return Frame(opcode, data).serialize(mask=mask, extensions=[])


UPGRADE = (b"GET /chat?name=ann HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
SWITCH = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


def test_a_websocket_upgrade_is_an_entry_with_its_frames() -> None:
    big = b"x" * 70_000
    capture = dissected(
        "websocket", (Sender.CLIENT, UPGRADE), (Sender.SERVER, SWITCH),
        (Sender.CLIENT, frame(Opcode.TEXT, "héllo".encode(), mask=True)),
        (Sender.SERVER, frame(Opcode.BINARY, b"\x00\xff", mask=False)),
        (Sender.CLIENT, frame(Opcode.TEXT, big, mask=True)),
        (Sender.SERVER, frame(Opcode.CLOSE, b"\x03\xf1too big", mask=False)))
    [entry] = entries_of(capture)
    assert entry["request"]["url"] == "http://lab/chat?name=ann"
    assert entry["response"]["status"] == 101 and entry["_resourceType"] == "websocket"
    frames = entry["_webSocketMessages"]
    assert [(f["type"], f["opcode"]) for f in frames] == [
        ("send", 1), ("receive", 2), ("send", 1), ("receive", 8)]
    assert frames[0]["data"] == "héllo" and frames[0]["time"] == 1002.0
    assert base64.b64decode(frames[1]["data"]) == b"\x00\xff"
    kept = len(frames[2]["data"])
    assert 60_000 < kept < 70_000 and frames[2]["data"] == "x" * kept
    assert frames[2]["_comment"] == f"truncated in the capture: {kept:,} of 70,000 payload " \
                                    "bytes kept"
    assert frames[3]["_closeCode"] == 1009 and frames[3]["data"] == "too big"


def test_a_capture_with_no_http_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    capture = dissected("tcp-echo", (Sender.CLIENT, b"hello"), (Sender.SERVER, b"hello"))
    out = tmp_path / "out.har"
    with pytest.raises(ExportError, match="^no HTTP messages in echo.jsonl: nothing to write "
                                          "as HAR$"):
        write(capture_records(capture), "har", out, name="echo.jsonl")
    assert not out.exists()
    with pytest.raises(ExportError, match="no HTTP messages in the capture"):
        write([], "har", out)
    assert not out.exists()


def test_the_check_rejects_what_har_1_2_does_not_allow() -> None:
    capture = dissected("http", (Sender.CLIENT, b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"),
                        (Sender.SERVER, b"HTTP/1.1 204 No Content\r\n\r\n"))
    har = to_har(capture_records(capture))
    check_har(har)
    del har["log"]["entries"][0]["response"]["content"]["mimeType"]
    with pytest.raises(AssertionError, match="mimeType is required"):
        check_har(har)
    har = to_har(capture_records(capture))
    har["log"]["entries"][0]["request"]["error"] = "x"
    with pytest.raises(AssertionError, match="error is not in HAR 1.2"):
        check_har(har)
