"""The HTTP dissector says what the server saw (issue 16, items 1, 7 and 8).

HTTP/1.0 keep-alive is followed exactly as RFC 9112 §9.3 says; a request whose
answer begins before its body ends is numbered before that answer; and what the
lab's server rejects (CL+TE, obs-fold, a TE with a trailing tab, bytes
after a connection-ending exchange) is never shown as a clean request.
"""

from __future__ import annotations

import pytest

from lab.dissect.http import HttpDissector
from lab.model import Piece, Sender
from tests.lab.dissect_helpers import feed_script, fields, summaries

C, S = Sender.CLIENT, Sender.SERVER

GET10_KA = b"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
CSS10_KA = b"GET /style.css HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
OK10_KA = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
OK10 = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"
OK11 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def run(script: list[tuple[Sender, bytes]], *, close: bool = True) -> list[Piece]:
    pieces: list[Piece] = []
    for fast in (True, False):  # the fast path and h11 alone must agree
        got = feed_script(HttpDissector(fast=fast), script, close=close)
        if fast:
            pieces = got
        else:
            assert got == pieces
    return pieces


def clean(pieces: list[Piece]) -> bool:
    return not any(p.malformed or p.truncated for p in pieces)


# -- item 1: HTTP/1.0 keep-alive ---------------------------------------------------------


def test_http10_keep_alive_both_ways_carries_two_exchanges() -> None:
    pieces = run([(C, GET10_KA), (S, OK10_KA), (C, CSS10_KA), (S, OK10_KA)])
    assert summaries(pieces) == ["GET /", "200 OK", "GET /style.css", "200 OK"]
    assert clean(pieces)
    assert [p.raw for p in pieces] == [GET10_KA, OK10_KA, CSS10_KA, OK10_KA]
    assert [fields(p)["request"] for p in pieces[1::2]] == ["GET /", "GET /style.css"]


def test_http10_keep_alive_answered_in_http11_persists() -> None:
    pieces = run([(C, GET10_KA), (S, OK11), (C, CSS10_KA), (S, OK11)])
    assert summaries(pieces) == ["GET /", "200 OK", "GET /style.css", "200 OK"]
    assert clean(pieces)


def test_twenty_http10_keep_alive_exchanges_as_ab_sends_them() -> None:
    request = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\nUser-Agent: ab\r\n\r\n"
    script = [(C, request), (S, OK10_KA)] * 20
    pieces = run(script)
    assert summaries(pieces) == ["GET /", "200 OK"] * 20
    assert clean(pieces)


def test_http10_persists_only_if_the_response_says_keep_alive() -> None:
    """The client asked; the server did not agree: what the client sends next is
    not a request the server reads."""
    pieces = run([(C, GET10_KA), (S, OK10), (C, CSS10_KA)])
    assert summaries(pieces)[:2] == ["GET /", "200 OK"]
    assert len(pieces) == 3 and pieces[2].malformed
    assert "RFC 9112 §9.3" in pieces[2].summary and pieces[2].raw == CSS10_KA


def test_http10_response_without_length_ends_at_close() -> None:
    body = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n" + b"x" * 100
    pieces = run([(C, GET10_KA), (S, body)])
    assert summaries(pieces) == ["GET /", "200 OK"]
    assert fields(pieces[1])["body length"] == 100 and clean(pieces)


def test_http10_without_keep_alive_is_one_exchange() -> None:
    plain = b"GET / HTTP/1.0\r\n\r\n"
    pieces = run([(C, plain), (S, OK11), (C, plain)])
    assert summaries(pieces)[:2] == ["GET /", "200 OK"] and pieces[2].malformed


# -- item 7: 100-continue ----------------------------------------------------------------

HEAD = b"POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def test_100_continue_the_request_head_is_numbered_first() -> None:
    done = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    pieces = run([(C, HEAD), (S, CONTINUE), (C, b"data"), (S, done)])
    assert summaries(pieces) == ["POST /upload", "100 Continue",
                                 "body of POST /upload: 4 bytes", "200 OK"]
    assert [p.raw for p in pieces] == [HEAD, CONTINUE, b"data", done]
    assert clean(pieces)
    assert fields(pieces[0])["method"] == "POST"
    assert fields(pieces[2])["body of"] == "POST /upload"
    assert fields(pieces[2])["body"] == "data"
    assert fields(pieces[1])["request"] == fields(pieces[3])["request"] == "POST /upload"


def test_100_continue_then_405_before_any_body() -> None:
    """curl's --data-binary with Expect: the server refuses before the body; curl
    closes. Three messages, in that order, none cut or truncated."""
    refused = b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"
    pieces = run([(C, HEAD), (S, CONTINUE), (S, refused)])
    assert summaries(pieces) == ["POST /upload", "100 Continue", "405 Method Not Allowed"]
    assert [p.raw for p in pieces] == [HEAD, CONTINUE, refused] and clean(pieces)


def test_an_early_final_answer_follows_the_request_head() -> None:
    refused = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"
    pieces = run([(C, HEAD + b"da"), (S, refused)])
    assert summaries(pieces)[:2] == ["POST /upload", "413 Content Too Large"]
    assert pieces[0].raw == HEAD + b"da" and not pieces[0].truncated


# -- item 8: what the server rejects is not a request -----------------------------------

_TAIL = b"0\r\n\r\n" + SMUGGLED


@pytest.mark.parametrize(("name", "head"), [
    ("CL then TE", b"Content-Length: 44\r\nTransfer-Encoding: chunked\r\n"),
    ("TE then CL", b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
    ("TE obs-fold", b"Transfer-Encoding:\r\n chunked\r\n"),
    ("other obs-fold", b"X-Foo: a\r\n\tb\r\nTransfer-Encoding: chunked\r\n"),
    ("TE trailing tab", b"Transfer-Encoding: chunked\t\r\n"),
    ("TE trailing space and tab", b"Transfer-Encoding: chunked \t\r\n"),
    ("TE tab before colon", b"Transfer-Encoding\t: chunked\r\n"),
    ("TE gzip, chunked", b"Transfer-Encoding: gzip, chunked\r\n"),
])
def test_smuggling_heads_are_malformed_and_invent_no_request(name: str, head: bytes) -> None:
    sent = b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n" + _TAIL
    bad = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    pieces = run([(C, sent), (S, bad)])
    assert not any("smuggled" in p.summary for p in pieces), name
    request = pieces[0]
    assert request.malformed and request.summary.startswith("malformed request: ")
    assert request.raw == sent  # every byte is shown, as not a request
    assert summaries(pieces)[1:] == ["400 Bad Request"]


@pytest.mark.parametrize("te", [b"Transfer-Encoding:\tchunked", b"Transfer-Encoding: chunked ",
                                b"Transfer-Encoding: chunked  "])
def test_white_space_both_agree_on_around_the_te_value(te: bytes) -> None:
    """A tab before the value, spaces after it: the server reads it as chunked (the
    next request is one), and so does the capture."""
    sent = b"POST / HTTP/1.1\r\nHost: x\r\n" + te + b"\r\n\r\n" + _TAIL
    pieces = run([(C, sent)])
    assert summaries(pieces) == ["POST /", "GET /smuggled"] and clean(pieces)


@pytest.mark.parametrize("upgrade", [
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n",
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
])
def test_a_refused_upgrade_answered_with_close_reads_nothing_after(upgrade: bytes) -> None:
    sent = b"GET / HTTP/1.1\r\nHost: x\r\n" + upgrade + b"\r\n" + SMUGGLED
    ok = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    pieces = run([(C, sent), (S, ok)])
    assert summaries(pieces)[:2] == ["GET /", "200 OK"]
    assert len(pieces) == 3 and pieces[2].malformed and pieces[2].raw == SMUGGLED
    assert "does not read it as a request" in pieces[2].summary


def test_a_refused_upgrade_kept_alive_reads_on() -> None:
    sent = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + SMUGGLED
    pieces = run([(C, sent), (S, OK11), (S, OK11)])
    assert summaries(pieces) == ["GET /", "200 OK", "GET /smuggled", "200 OK"]
    assert clean(pieces)


def test_absolute_form_target_is_shown_as_sent() -> None:
    sent = b"GET http://127.0.0.1/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    pieces = run([(C, sent), (S, OK11)])
    assert summaries(pieces) == ["GET http://127.0.0.1/style.css", "200 OK"]
    assert fields(pieces[0])["target"] == "http://127.0.0.1/style.css"
