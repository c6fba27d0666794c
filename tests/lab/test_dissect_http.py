"""The HTTP dissector on bytes alone: one Piece per request and response, any chunking."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.http import MAX_HEAD, UPGRADES, HttpDissector
from lab.dissect.http_fields import BODY_PREVIEW
from lab.dissect.raw import RawDissector
from lab.model import RAW_LIMIT, Piece, Sender
from tests.lab.dissect_helpers import Script, feed_script, fields, summaries

C, S = Sender.CLIENT, Sender.SERVER

GET = b"GET /index.html HTTP/1.1\r\nHost: lab.test\r\n\r\n"
OK_HELLO = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
WS_REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: lab.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
WS_101 = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)



def run(script: Script, *, d: HttpDissector | None = None, close: bool = False) -> list[Piece]:
    return feed_script(d or HttpDissector(), script, close=close)


# -- one exchange ---------------------------------------------------------------


def test_get_and_200_with_a_content_length_body() -> None:
    req, resp = run([(C, GET), (S, OK_HELLO)])
    assert (req.sender, req.summary, req.raw, req.size) == (C, "GET /index.html", GET, len(GET))
    assert req.fields == (
        ("method", "GET"),
        ("target", "/index.html"),
        ("version", "HTTP/1.1"),
        ("header: Host", "lab.test"),
        ("body length", 0),
    )
    assert (resp.sender, resp.summary, resp.raw, resp.size) == (S, "200 OK", OK_HELLO, 69)
    assert resp.fields == (
        ("status", 200),
        ("reason", "OK"),
        ("version", "HTTP/1.1"),
        ("header: Content-Type", "text/plain"),
        ("header: Content-Length", "5"),
        ("body length", 5),
        ("body", "hello"),
        ("latency ms", 1000.0),
        ("request", "GET /index.html"),
    )
    assert not any(p.truncated or p.malformed for p in (req, resp))


def test_make_gives_the_http_dissector() -> None:
    assert isinstance(dissect.make("http"), HttpDissector)


def test_a_message_comes_out_only_when_complete() -> None:
    d = HttpDissector()
    assert d.feed(C, GET[:-1], now=0.0) == []
    assert summaries(d.feed(C, GET[-1:], now=0.0)) == ["GET /index.html"]
    assert d.feed(S, OK_HELLO[:-1], now=0.0) == []
    assert summaries(d.feed(S, OK_HELLO[-1:], now=0.0)) == ["200 OK"]


def test_headers_keep_their_case_order_and_repeats() -> None:
    resp = (
        b"HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nX-Thing: x\r\nSet-Cookie: b=2\r\n"
        b"content-length: 0\r\n\r\n"
    )
    _, piece = run([(C, GET), (S, resp)])
    headers = [(k, v) for k, v in piece.fields if k.startswith("header: ")]
    assert headers == [
        ("header: set-cookie", "a=1"),
        ("header: X-Thing", "x"),
        ("header: Set-Cookie", "b=2"),
        ("header: content-length", "0"),
    ]


def test_an_empty_reason_is_given_the_standard_phrase() -> None:
    bare = b"HTTP/1.1 %d \r\nContent-Length: 0\r\n\r\n"
    _, known, _, unknown = run([(C, GET), (S, bare % 404), (C, GET), (S, bare % 599)])
    assert known.summary == "404 Not Found"
    assert fields(known)["reason"] == "Not Found"
    assert unknown.summary == "599"
    assert fields(unknown)["reason"] == ""


def test_post_json_body() -> None:
    body = b'{"title": "caf\xc3\xa9", "n": 1}'
    post = (
        b"POST /api/notes HTTP/1.1\r\nHost: lab.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    created = b"HTTP/1.1 201 Created\r\nLocation: /api/notes/7\r\nContent-Length: 0\r\n\r\n"
    req, resp = run([(C, post), (S, created)])
    assert req.summary == "POST /api/notes"
    assert req.raw == post
    assert fields(req)["body length"] == len(body)
    assert fields(req)["body"] == '{"title": "café", "n": 1}'
    assert fields(req)["header: Content-Type"] == "application/json"
    assert resp.summary == "201 Created"
    assert fields(resp)["request"] == "POST /api/notes"
    assert fields(resp)["body length"] == 0 and "body" not in fields(resp)


def test_chunked_response_is_one_piece_with_its_framing_in_raw() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"
        b"6\r\n<html>\r\nA;ext=1\r\n<p>hi</p>\n\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )
    _, resp = run([(C, GET), (S, chunked)])
    assert resp.summary == "200 OK"
    assert resp.raw == chunked
    assert resp.size == len(chunked)
    assert fields(resp)["body length"] == 16
    assert fields(resp)["body"] == "<html><p>hi</p>\n"
    assert fields(resp)["trailer: X-Checksum"] == "abc"


def test_chunked_request_body() -> None:
    put = (
        b"PUT /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    )
    [req] = run([(C, put)])
    assert (req.summary, req.raw) == ("PUT /f", put)
    assert fields(req)["body"] == "abc"


def test_binary_and_compressed_bodies_are_shown_as_hex() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00"
    image = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 10\r\n\r\n" + png
    gzipped = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd"
    _, img, _, gz = run([(C, GET), (S, image), (C, GET), (S, gzipped)])
    assert fields(img)["body"] == "89 50 4e 47 0d 0a 1a 0a 00 00"
    assert fields(gz)["body"] == "61 62 63 64"


# -- bodies that are not there --------------------------------------------------


def test_head_response_announces_a_length_but_has_no_body() -> None:
    head = b"HEAD /big.iso HTTP/1.1\r\nHost: lab.test\r\n\r\n"
    announced = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
    pieces = run([(C, head), (S, announced), (C, GET), (S, OK_HELLO)])
    assert summaries(pieces) == ["HEAD /big.iso", "200 OK", "GET /index.html", "200 OK"]
    assert pieces[1].raw == announced
    assert fields(pieces[1])["body length"] == 0
    assert fields(pieces[3])["request"] == "GET /index.html"


def test_304_has_no_body_even_with_a_content_length() -> None:
    conditional = b'GET /style.css HTTP/1.1\r\nHost: h\r\nIf-None-Match: "abc"\r\n\r\n'
    not_modified = b'HTTP/1.1 304 Not Modified\r\nETag: "abc"\r\nContent-Length: 120\r\n\r\n'
    pieces = run([(C, conditional), (S, not_modified), (C, GET), (S, OK_HELLO)])
    assert summaries(pieces) == ["GET /style.css", "304 Not Modified", "GET /index.html", "200 OK"]
    assert pieces[1].raw == not_modified


def test_100_continue_comes_after_the_request_head_and_the_body_after_it() -> None:
    """The request's head is numbered before the 100 Continue that answers it, and
    is not truncated; the body the client sends after the 100 is a message of its own."""
    head = (
        b"POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    )
    cont = b"HTTP/1.1 100 Continue\r\n\r\n"
    done = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    pieces = run([(C, head), (S, cont), (C, b"data"), (S, done)])
    assert summaries(pieces) == ["POST /upload", "100 Continue",
                                 "body of POST /upload: 4 bytes", "200 OK"]
    assert [p.raw for p in pieces] == [head, cont, b"data", done]
    assert not any(p.truncated for p in pieces)
    assert fields(pieces[1])["request"] == fields(pieces[3])["request"] == "POST /upload"


# -- many exchanges on one connection -------------------------------------------


def test_keep_alive_carries_two_exchanges() -> None:
    second = b"GET /about.html HTTP/1.1\r\nHost: lab.test\r\n\r\n"
    pieces = run([(C, GET), (S, OK_HELLO), (C, second), (S, OK_HELLO)])
    assert summaries(pieces) == ["GET /index.html", "200 OK", "GET /about.html", "200 OK"]
    assert [fields(p)["request"] for p in pieces[1::2]] == ["GET /index.html", "GET /about.html"]
    assert [p.raw for p in pieces] == [GET, OK_HELLO, second, OK_HELLO]


def test_pipelined_requests_come_out_as_they_arrive_and_pair_in_order() -> None:
    a, b, c = (b"GET /%s HTTP/1.1\r\nHost: h\r\n\r\n" % n for n in (b"a", b"b", b"c"))
    r1 = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"
    r2 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\n2"
    r3 = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n3\r\n0\r\n\r\n"
    d = HttpDissector()
    requests = d.feed(C, a + b + c, now=1.0)
    assert summaries(requests) == ["GET /a", "GET /b", "GET /c"]
    assert [p.raw for p in requests] == [a, b, c]
    responses = d.feed(S, r1 + r2, now=1.25) + d.feed(S, r3, now=1.5)
    assert summaries(responses) == ["200 OK", "404 Not Found", "200 OK"]
    assert [p.raw for p in responses] == [r1, r2, r3]
    assert [fields(p)["request"] for p in responses] == ["GET /a", "GET /b", "GET /c"]
    assert [fields(p)["latency ms"] for p in responses] == [250.0, 250.0, 500.0]


def test_latency_runs_from_the_requests_first_byte_to_the_responses_last() -> None:
    d = HttpDissector()
    d.feed(C, GET[:10], now=10.0)
    d.feed(C, GET[10:], now=10.5)
    d.feed(S, OK_HELLO[:20], now=10.75)
    [resp] = d.feed(S, OK_HELLO[20:], now=11.0)
    assert resp.time == 11.0
    assert fields(resp)["latency ms"] == 1000.0
    assert fields(resp)["request"] == "GET /index.html"


def test_connection_close_ends_the_conversation() -> None:
    closing = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    bye = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"
    d = HttpDissector()
    pieces = run([(C, closing), (S, bye)], d=d)
    assert summaries(pieces) == ["GET /", "200 OK"]
    assert fields(pieces[1])["header: Connection"] == "close"
    [extra] = d.feed(S, b"HTTP/1.1 200 OK\r\n\r\n", now=5.0)  # nothing may follow
    assert extra.malformed and extra.summary.startswith("malformed response: ")
    assert d.close(now=6.0) == []


def test_http10_response_without_length_ends_at_close() -> None:
    old = b"GET /old HTTP/1.0\r\n\r\n"
    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    d = HttpDissector()
    assert summaries(run([(C, old)], d=d)) == ["GET /old"]
    assert d.feed(S, head + b"until ", now=1.0) == []
    assert d.feed(S, b"the end", now=2.0) == []
    [resp] = d.close(now=3.0)
    assert resp.summary == "200 OK"
    assert resp.raw == head + b"until the end"
    assert not resp.truncated and not resp.malformed
    assert fields(resp)["body"] == "until the end"
    assert fields(resp)["version"] == "HTTP/1.0"
    assert fields(resp)["request"] == "GET /old"


# -- switching protocols ---------------------------------------------------------


def test_101_to_a_protocol_with_no_dissector_gives_raw_pieces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(UPGRADES, "websocket", raising=False)  # as if it had none
    frame_out, frame_in = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", b"\x81\x05Hello"
    d = HttpDissector()
    pieces = run([(C, WS_REQUEST + frame_out), (S, WS_101 + frame_in), (C, frame_out)], d=d)
    assert summaries(pieces[:2]) == ["GET /chat", "101 Switching Protocols"]
    assert pieces[0].raw == WS_REQUEST
    assert pieces[1].raw == WS_101
    assert fields(pieces[1])["request"] == "GET /chat"
    raw_pieces = pieces[2:]
    assert [(p.sender, p.raw) for p in raw_pieces] == [
        (C, frame_out),
        (S, frame_in),
        (C, frame_out),
    ]
    assert all(dict(p.fields) == {"length": len(p.raw)} for p in raw_pieces)
    assert d.close(now=9.0) == []


def test_the_upgraded_dissector_comes_from_the_upgrades_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[Sender, bytes]] = []

    class Recorder(RawDissector):
        def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
            seen.append((sender, data))
            return []

    monkeypatch.setitem(UPGRADES, "websocket", Recorder)
    run([(C, WS_REQUEST + b"early"), (S, WS_101 + b"hello"), (S, b"more")])
    assert seen == [(C, b"early"), (S, b"hello"), (S, b"more")]


def test_a_refused_upgrade_stays_http() -> None:
    refused = b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"
    pieces = run([(C, WS_REQUEST), (S, refused), (C, GET), (S, OK_HELLO)])
    assert summaries(pieces) == ["GET /chat", "426 Upgrade Required", "GET /index.html", "200 OK"]
    assert not any(p.malformed for p in pieces)


def test_connect_opens_a_raw_tunnel() -> None:
    connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    established = b"HTTP/1.1 200 Connection Established\r\n\r\n"
    hello = b"\x16\x03\x01\x00\x05hello"
    pieces = run([(C, connect), (S, established), (C, hello)])
    assert summaries(pieces[:2]) == ["CONNECT example.com:443", "200 Connection Established"]
    assert [(p.sender, p.raw) for p in pieces[2:]] == [(C, hello)]


# -- what cannot be parsed -------------------------------------------------------


def test_a_malformed_request_line_is_one_malformed_piece_then_raw() -> None:
    junk = b"HELLO THERE\r\n\r\n"
    d = HttpDissector()
    [bad] = d.feed(C, junk, now=0.0)
    assert bad.malformed and bad.sender is C
    assert bad.summary.startswith("malformed request: ")
    assert bad.raw == junk and bad.size == len(junk)
    assert str(fields(bad)["error"]) in bad.summary
    [later] = d.feed(C, GET, now=1.0)  # no exception, and the bytes are still shown
    assert later.raw == GET and not later.malformed
    [answer] = d.feed(S, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", now=2.0)
    assert answer.summary == "400 Bad Request" and not answer.malformed
    assert "request" not in fields(answer)  # it answers nothing the dissector could read


def test_a_giant_header_is_malformed_not_buffered_forever() -> None:
    giant = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * (MAX_HEAD + 10)
    d = HttpDissector()
    pieces: list[Piece] = []
    for start in range(0, len(giant), 4096):
        pieces += d.feed(C, giant[start : start + 4096], now=0.0)
    [bad] = pieces
    assert bad.malformed
    assert bad.summary == "malformed request: Receive buffer too long"
    assert MAX_HEAD < bad.size <= MAX_HEAD + 4096
    assert bad.raw == giant[:RAW_LIMIT] and bad.truncated
    assert d.feed(C, b"\r\n\r\n", now=1.0)[0].raw == b"\r\n\r\n"


def test_a_response_before_any_request_is_read_but_unpaired() -> None:
    timeout = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    [piece] = run([(S, timeout)])
    assert piece.summary == "408 Request Timeout" and not piece.malformed
    assert "request" not in fields(piece) and "latency ms" not in fields(piece)


def test_a_broken_fallback_becomes_a_malformed_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(RawDissector):
        def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
            raise RuntimeError("boom")

    monkeypatch.setitem(UPGRADES, "websocket", Broken)
    pieces = run([(C, WS_REQUEST), (S, WS_101), (S, b"frame"), (S, b"next")])
    assert summaries(pieces[2:]) == ["malformed response: RuntimeError: boom", '"next" (4 bytes)']
    assert pieces[2].raw == b"frame"


# -- cut short, and big ----------------------------------------------------------


def test_a_response_cut_short_says_how_much_arrived() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
    d = HttpDissector()
    run([(C, GET), (S, head + b"x" * 1234)], d=d)
    [cut] = d.close(now=5.0)
    assert cut.summary == "incomplete response: 1234 of 5000 body bytes"
    assert cut.truncated and not cut.malformed
    assert cut.raw == head + b"x" * 1234
    assert fields(cut)["request"] == "GET /index.html"


def test_a_request_cut_in_its_head_is_malformed_at_close() -> None:
    d = HttpDissector()
    assert d.feed(C, b"GET /ha", now=0.0) == []
    [cut] = d.close(now=1.0)
    assert cut.summary == "incomplete request: head cut off after 7 bytes"
    assert cut.malformed and cut.raw == b"GET /ha"


def test_a_chunked_body_cut_short_has_no_total() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    d = HttpDissector()
    run([(C, GET), (S, head + b"4\r\nabcd\r\n2\r\nx")], d=d)
    [cut] = d.close(now=5.0)
    assert cut.summary == "incomplete response: 5 body bytes"


def test_a_200_kb_body_keeps_a_prefix_and_its_true_size() -> None:
    body = bytes(range(256)) * 800
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    resp = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    _, piece = run([(C, GET), (S, resp)])
    assert piece.summary == "200 OK"
    assert piece.truncated
    assert piece.size == len(resp)
    assert piece.raw == resp[:RAW_LIMIT]
    assert fields(piece)["body length"] == len(body)
    shown = str(fields(piece)["body"])
    assert shown.startswith("00 01 02") and shown.endswith("…") and len(shown) < 4 * BODY_PREVIEW


def test_a_long_text_body_preview_is_bounded() -> None:
    body = b"line\n" * 2000
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    _, piece = run([(C, GET), (S, resp)])
    assert fields(piece)["body"] == (b"line\n" * 2000)[:BODY_PREVIEW].decode() + "…"


def test_a_big_download_is_counted_not_kept() -> None:
    block = b"z" * 65536
    blocks = 320  # 20 MiB
    d = HttpDissector()
    d.feed(C, GET, now=0.0)
    d.feed(S, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(block) * blocks), now=0.0)
    tracemalloc.start()
    try:
        out = [p for _ in range(blocks) for p in d.feed(S, block, now=1.0)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [piece] = out
    assert fields(piece)["body length"] == len(block) * blocks
    assert len(piece.raw) == RAW_LIMIT
    assert peak < 8 * RAW_LIMIT


# -- any chunking, any bytes -----------------------------------------------------


@st.composite
def exchanges(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """A valid keep-alive conversation; the last response may run until close."""
    count = draw(st.integers(1, 4))
    return [draw(exchange(last=i == count - 1)) for i in range(count)]


@st.composite
def exchange(draw: st.DrawFn, *, last: bool) -> tuple[bytes, bytes]:
    method = draw(st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT", b"DELETE"]))
    target = draw(st.from_regex(rb"/[a-z0-9/._-]{0,12}", fullmatch=True))
    body = draw(st.binary(max_size=300)) if method in (b"POST", b"PUT") else b""
    extra = b"".join(b"X-N: %d\r\n" % n for n in draw(st.lists(st.integers(0, 9), max_size=3)))
    expect = bool(body) and draw(st.booleans())
    head = b"%s %s HTTP/1.1\r\nHost: lab.test\r\n%s" % (method, target, extra)
    request = head + (b"Expect: 100-continue\r\n" if expect else b"") + draw(framed(body))
    status = draw(st.sampled_from([200, 201, 204, 304, 404, 500]))
    bodyless = method == b"HEAD" or status in (204, 304)
    resp_body = b"" if bodyless else draw(st.binary(max_size=400))
    status_line = b"HTTP/1.1 %d %s\r\n" % (status, draw(st.sampled_from([b"Whatever", b""])))
    until_close = last and not bodyless and draw(st.booleans())
    if until_close:
        framing = b"Connection: close\r\n\r\n" + resp_body
    elif bodyless:
        framing = b"Content-Length: 17\r\n\r\n"
    else:
        framing = draw(framed(resp_body))
    informational = b"HTTP/1.1 100 Continue\r\n\r\n" if expect else b""
    return request, informational + status_line + framing


@st.composite
def framed(draw: st.DrawFn, body: bytes) -> bytes:
    """Headers' end and ``body``, with Content-Length or in random chunks."""
    if not draw(st.booleans()):
        return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(body) - 1)), max_size=4)))
    parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p)
    return b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def converse(talk: list[tuple[bytes, bytes]], cut: st.DataObject | None) -> list[Piece]:
    """Each exchange's request, then its response, at time = the exchange's index."""
    d = HttpDissector()
    pieces: list[Piece] = []
    for i, (request, response) in enumerate(talk):
        for sender, data in ((C, request), (S, response)):
            if cut is None:
                chunks = [data]
            else:
                chunks = split(data, cut.draw(st.lists(st.integers(0, len(data)), max_size=8)))
            for chunk in chunks:
                pieces += d.feed(sender, chunk, now=float(i))
    return pieces + d.close(now=float(len(talk)))


def bytewise(talk: list[tuple[bytes, bytes]]) -> list[Piece]:
    d = HttpDissector()
    pieces: list[Piece] = []
    for i, (request, response) in enumerate(talk):
        for sender, data in ((C, request), (S, response)):
            for n in range(len(data)):
                pieces += d.feed(sender, data[n : n + 1], now=float(i))
    return pieces + d.close(now=float(len(talk)))


@settings(max_examples=200, deadline=None)
@given(exchanges(), st.data())
def test_any_split_of_a_conversation_gives_the_same_pieces(
    talk: list[tuple[bytes, bytes]], data: st.DataObject
) -> None:
    whole = converse(talk, None)
    assert not any(p.malformed or p.truncated for p in whole)
    finals = [p for p in whole if p.sender is S and not p.summary.startswith("100 ")]
    assert len(finals) == len(talk) == len([p for p in whole if p.sender is C])
    assert b"".join(p.raw for p in whole if p.sender is C) == b"".join(r for r, _ in talk)
    assert b"".join(p.raw for p in whole if p.sender is S) == b"".join(r for _, r in talk)
    assert converse(talk, data) == whole


@settings(max_examples=40, deadline=None)
@given(exchanges())
def test_byte_by_byte_gives_the_same_pieces(talk: list[tuple[bytes, bytes]]) -> None:
    assert bytewise(talk) == converse(talk, None)


_FRAGMENTS = [GET, OK_HELLO, WS_REQUEST, WS_101, b"\r\n", b"0\r\n\r\n", b"Content-Length: 3\r\n"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Sender)),
            st.one_of(st.binary(max_size=64), st.sampled_from(_FRAGMENTS)),
        ),
        max_size=12,
    )
)
def test_any_bytes_never_raise_and_every_byte_is_shown(script: list[tuple[Sender, bytes]]) -> None:
    pieces = run(script, close=True)
    for sender in Sender:
        fed = sum(len(data) for who, data in script if who is sender)
        assert sum(p.size for p in pieces if p.sender is sender) == fed
    assert all(len(p.raw) <= RAW_LIMIT and "\n" not in p.summary for p in pieces)


def test_requests_are_still_read_when_the_response_side_is_broken() -> None:
    d = HttpDissector()
    [bad] = d.feed(S, b"SSH-2.0-OpenSSH\r\n\r\n", now=0.0)
    assert bad.summary.startswith("malformed response: ")
    pieces = d.feed(C, WS_REQUEST + GET, now=1.0)  # no 101 can be seen: read on
    assert summaries(pieces) == ["GET /chat", "GET /index.html"]


def test_an_http10_request_with_a_host_is_read() -> None:
    old = b"GET / HTTP/1.0\r\nHost: lab.test\r\n\r\n"
    pieces = run([(C, old), (S, OK_HELLO)], close=True)
    assert summaries(pieces) == ["GET /", "200 OK"]
    assert fields(pieces[0])["version"] == "HTTP/1.0"


def test_a_request_waiting_on_a_101_goes_on_when_the_responses_break() -> None:
    d = HttpDissector()
    assert summaries(d.feed(C, WS_REQUEST, now=0.0)) == ["GET /chat"]
    [bad] = d.feed(S, b"\x00garbage\r\n\r\n", now=1.0)
    assert bad.malformed
    assert summaries(d.feed(C, GET, now=2.0)) == ["GET /index.html"]
