"""The HTTP dissector's fast path (lab/dissect/http_head.py) against h11 alone.

Whatever the bytes and however they are split, a dissector with the fast path
makes exactly the Pieces one reading everything with h11 makes: same summaries,
fields, raw slices, times, flags. The conversations mix plain messages with
every kind the fast path hands to h11 (chunked, HEAD, 1xx, close, upgrades,
HTTP/1.0, malformed heads).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.dissect.http import HttpDissector
from lab.model import Piece, Sender

H = "Host: lab.test\r\n"
REQUESTS = [
    f"GET / HTTP/1.1\r\n{H}\r\n",
    f"GET /style.css HTTP/1.1\r\n{H}User-Agent: wrk\r\nAccept: */*\r\n\r\n",
    f"POST /api/notes HTTP/1.1\r\n{H}Content-Length: 11\r\n\r\nhello world",
    f"POST /n HTTP/1.1\r\n{H}Content-Type: text/plain\r\nContent-Length:  3 \r\n\r\nabc",
    f"PUT /x HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    f"HEAD /style.css HTTP/1.1\r\n{H}\r\n",
    f"GET /close HTTP/1.1\r\n{H}Connection: close\r\n\r\n",
    f"GET /ka HTTP/1.1\r\n{H}Connection: keep-alive\r\n\r\n",
    "GET /old HTTP/1.0\r\n\r\n",
    f"GET /chat HTTP/1.1\r\n{H}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "CONNECT lab.test:443 HTTP/1.1\r\nHost: lab.test:443\r\n\r\n",
    f"POST /e HTTP/1.1\r\n{H}Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    "GET /nohost HTTP/1.1\r\n\r\n",
    f"GET /two HTTP/1.1\r\n{H}{H}\r\n",
    f"GET /fold HTTP/1.1\r\n{H}X-A: one\r\n  two\r\n\r\n",
    f"GET /lf HTTP/1.1\n{H.strip()}\n\n",
    f"GET /cl HTTP/1.1\r\n{H}Content-Length: 1, 1\r\n\r\nz",
    f"GET /cl2 HTTP/1.1\r\n{H}Content-Length: 1\r\nContent-Length: 1\r\n\r\nz",
    f"GET /bad header HTTP/1.1\r\n{H}\r\n",
    f"GET /h HTTP/1.1\r\n{H}Bad Header: x\r\n\r\n",
    f"GET /caf\xe9 HTTP/1.1\r\n{H}X-T: caf\xe9\r\n\r\n",
    "\r\nGET / HTTP/1.1\r\n\r\n",
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    f"GET /big HTTP/1.1\r\n{H}X-Pad: {'p' * 9000}\r\n\r\n",
]
RESPONSES = [
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
    "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbye!",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\nuntil close",
    "HTTP/1.1 200 OK\r\n\r\nno length",
    "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "HTTP/1.1 2000 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00",
    "HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
    "garbage\r\n\r\n",
    "\x00\x01",
]


def _bytes(text: str) -> bytes:
    return text.encode("latin-1")


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[Sender, bytes]]:
    """A client stream and a server stream, each cut into chunks, interleaved."""
    plain = st.sampled_from(REQUESTS[:4])
    requests = draw(st.lists(st.one_of(plain, st.sampled_from(REQUESTS)), max_size=6))
    responses = draw(st.lists(st.one_of(st.sampled_from(RESPONSES[:4]),
                                        st.sampled_from(RESPONSES)), max_size=6))
    streams = {Sender.CLIENT: _bytes("".join(requests)),
               Sender.SERVER: _bytes("".join(responses))}
    chunks: dict[Sender, list[bytes]] = {}
    for sender, data in streams.items():
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=5)))
        bounds = [0, *cuts, len(data)]
        chunks[sender] = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    order = draw(st.permutations([Sender.CLIENT] * len(chunks[Sender.CLIENT])
                                 + [Sender.SERVER] * len(chunks[Sender.SERVER])))
    taken = {Sender.CLIENT: iter(chunks[Sender.CLIENT]), Sender.SERVER: iter(chunks[Sender.SERVER])}
    return [(sender, next(taken[sender])) for sender in order]


def dissect(feeds: list[tuple[Sender, bytes]], *, fast: bool) -> list[Piece]:
    d = HttpDissector(fast=fast)
    pieces: list[Piece] = []
    for i, (sender, data) in enumerate(feeds):
        pieces += d.feed(sender, data, float(i))
    return pieces + d.close(float(len(feeds)))


@settings(max_examples=1500, deadline=None)
@given(conversations())
def test_the_fast_path_makes_the_pieces_h11_makes(feeds: list[tuple[Sender, bytes]]) -> None:
    assert dissect(feeds, fast=True) == dissect(feeds, fast=False)


def test_plain_keep_alive_exchanges_are_read_by_the_fast_path() -> None:
    d = HttpDissector()
    req = _bytes(REQUESTS[1])
    resp = _bytes(RESPONSES[0])
    out = []
    for t in range(3):
        out += d.feed(Sender.CLIENT, req, float(t))
        out += d.feed(Sender.SERVER, resp, t + 0.5)
    assert [p.summary for p in out] == ["GET /style.css", "200 OK"] * 3
    assert out[1].fields[-2:] == (("latency ms", 500.0), ("request", "GET /style.css"))
    assert (d._req.conn, d._resp.conn) == (None, None)  # h11 never had to look


def test_a_chunked_response_hands_only_the_responses_to_h11() -> None:
    d = HttpDissector()
    out = d.feed(Sender.CLIENT, _bytes(REQUESTS[0] * 2), 0.0)
    out += d.feed(Sender.SERVER, _bytes(RESPONSES[6] + RESPONSES[0]), 1.0)
    assert [p.summary for p in out] == ["GET /", "GET /", "200 OK", "200 OK"]
    assert out[2].fields[-4:-2] == (("body length", 5), ("body", "hello"))
    assert d._req.conn is None and d._resp.conn is not None


def test_a_malformed_head_is_still_malformed_with_h11s_reason() -> None:
    d = HttpDissector()
    out = d.feed(Sender.CLIENT, _bytes(REQUESTS[12]), 0.0)
    assert [(p.malformed, p.summary) for p in out] == [
        (True, "malformed request: Missing mandatory Host: header")]
