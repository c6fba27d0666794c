"""HTTP/1.1 keep-alive conversations built from the grammar (RFC 9112): any method,
target and headers; bodies framed by Content-Length, chunked (with trailers) or, on
the last response, by the close, the framing headers in any case and spacing; a 100
Continue before some answers; HEAD, 204 and 304 without a body; requests pipelined
or not. Each gives one clean Piece per request and per response, and
the same ones however the bytes are cut."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from lab import dissect
from tests.fuzz.talk import (
    FUZZ,
    C,
    S,
    Script,
    check_every_byte_shown,
    chunked,
    feed,
    views,
    without_latency,
)

# Text strategies, not regexes: a regex draws each character on its own, and
# Hypothesis's memory of tried examples grows with the draws (2 GB at 10,000 examples).
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
_TOKEN = st.tuples(st.sampled_from(_ALNUM[:52]), st.text(_ALNUM + "-", max_size=15)).map("".join)
_VALUE = st.tuples(_VISIBLE, st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                     max_size=30)).map(lambda t: (t[0] + t[1]).rstrip())
_QUERY = st.none() | st.text(_ALNUM + "=&", max_size=20)
_TARGET = st.tuples(st.text(_ALNUM + "._~/-", max_size=30), _QUERY).map(
    lambda pq: "/" + pq[0] + ("" if pq[1] is None else "?" + pq[1]))
_SKIP = {"content-length", "transfer-encoding", "connection", "host", "upgrade", "te",
         "trailer", "expect"}
_HEADERS = st.lists(st.tuples(_TOKEN, _VALUE), max_size=5).map(
    lambda hs: [(n, v) for n, v in hs if n.lower() not in _SKIP])
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
            304: "Not Modified", 400: "Bad Request", 404: "Not Found", 500: "Server Error"}


@dataclass(frozen=True)
class Exchange:
    request: bytes
    responses: tuple[bytes, ...]  # a 100 Continue, maybe, then the final response
    summary: str  # the request's, as the user sees it

    @property
    def response(self) -> bytes:
        return b"".join(self.responses)


@st.composite
def spelled(draw: st.DrawFn, name: str, value: str) -> bytes:
    """A framing header line as peers write it: any case, optional whitespace (RFC 9110 5.6.3)."""
    name = draw(st.sampled_from([name, name.lower(), name.upper()]))
    before, after = draw(st.sampled_from([" ", "", "  ", "\t"])), draw(st.sampled_from(["", " "]))
    return f"{name}:{before}{value}{after}\r\n".encode()


@st.composite
def framed(draw: st.DrawFn, head: list[bytes], *, until_close: bool = False) -> bytes:
    """The head lines plus a body: Content-Length, chunked, or (``until_close``) unframed."""
    body = draw(st.binary(max_size=300))
    how = "close" if until_close else draw(st.sampled_from(["length", "chunked"]))
    if how == "length":
        return b"".join([*head, draw(spelled("Content-Length", str(len(body)))), b"\r\n", body])
    if how == "close":
        return b"".join([*head, b"Connection: close\r\n\r\n", body])
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(body))), max_size=3)))
    parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if b > a]
    parts = [part for part in parts if part]  # an empty chunk would end the body
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    trailers = b"".join(b"%s: %s\r\n" % (n.encode(), v.encode()) for n, v in draw(_HEADERS))
    return b"".join([*head, draw(spelled("Transfer-Encoding", "chunked")), b"\r\n", chunks,
                     b"0\r\n", trailers, b"\r\n"])


def _lines(first: str, headers: list[tuple[str, str]]) -> list[bytes]:
    return [f"{first}\r\n".encode(), *(f"{n}: {v}\r\n".encode() for n, v in headers)]


@st.composite
def exchange(draw: st.DrawFn, *, last: bool) -> Exchange:
    method = draw(st.sampled_from(["GET", "HEAD", "DELETE", "OPTIONS", "POST", "PUT", "PATCH"]))
    target = draw(_TARGET)
    head = _lines(f"{method} {target} HTTP/1.1", [("Host", "lab.test"), *draw(_HEADERS)])
    interim: tuple[bytes, ...] = ()
    if method in ("POST", "PUT", "PATCH"):
        request = draw(framed(head))
        interim = (b"HTTP/1.1 100 Continue\r\n\r\n",) if draw(st.booleans()) else ()
    else:
        request = b"".join([*head, b"\r\n"])
    status = draw(st.sampled_from(sorted(_REASONS)))
    head = _lines(f"HTTP/1.1 {status} {_REASONS[status]}", draw(_HEADERS))
    if method == "HEAD":  # the length of the body a GET would have had
        length = draw(st.integers(0, 999))
        response = b"".join([*head, draw(spelled("Content-Length", str(length))), b"\r\n"])
    elif status in (204, 304):
        response = b"".join([*head, b"\r\n"])
    else:
        response = draw(framed(head, until_close=last and draw(st.booleans())))
    return Exchange(request, (*interim, response), f"{method} {target}")


@st.composite
def conversation(draw: st.DrawFn) -> tuple[Script, list[Exchange]]:
    count = draw(st.integers(1, 4))
    exchanges = [draw(exchange(last=n == count - 1)) for n in range(count)]
    if draw(st.booleans()):  # pipelined: every request before the first response
        script: Script = [(C, b"".join(e.request for e in exchanges))]
        return script + [(S, e.response) for e in exchanges], exchanges
    return [step for e in exchanges for step in ((C, e.request), (S, e.response))], exchanges


@FUZZ
@given(talk=conversation(), data=st.data())
def test_http_conversations_any_chunking(talk: tuple[Script, list[Exchange]],
                                         data: st.DataObject) -> None:
    script, exchanges = talk
    whole = feed(dissect.make("http"), script)
    assert not any(p.malformed or p.truncated for p in whole), [p.summary for p in whole]
    check_every_byte_shown(whole, script)
    assert [p.summary for p in whole if p.sender is C] == [e.summary for e in exchanges]
    assert [p.raw for p in whole if p.sender is S] == [r for e in exchanges for r in e.responses]
    chunks = chunked(data, script)
    got = feed(dissect.make("http"), chunks)
    assert list(map(without_latency, views(got))) == list(map(without_latency, views(whole)))
