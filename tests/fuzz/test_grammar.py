"""Valid conversations built from the protocols' grammar (DNS messages made with
dnspython, WebSocket frames per RFC 6455, FTP data) give clean Messages, and the
same ones however their bytes are cut."""

from __future__ import annotations

import ipaddress

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Close, Opcode

from lab import dissect
from lab.dissect.dns import DnsDissector
from lab.dissect.websocket import LARGE_FRAME, WebSocketDissector
from lab.dissect.ws_frames import unmask
from lab.model import Sender
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

# -- DNS ----------------------------------------------------------------------------

_LDH = "abcdefghijklmnopqrstuvwxyz0123456789"
_LABEL = st.tuples(st.sampled_from(_LDH), st.text(_LDH + "-", max_size=12)).map(
    lambda t: (t[0] + t[1]).rstrip("-"))
_NAME = st.lists(_LABEL, min_size=1, max_size=3).map(lambda ls: ".".join([*ls, "lab", "test"]))
_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'),
                max_size=80)
_VALUES = {
    "A": st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    "AAAA": st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    "MX": st.tuples(st.integers(0, 100), _NAME).map(lambda pn: f"{pn[0]} {pn[1]}."),
    "CNAME": _NAME.map(lambda n: n + "."),
    "TXT": _TEXT.map(lambda t: f'"{t}"'),
}


@st.composite
def dns_exchange(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A query and its response, as wire bytes."""
    rdtype = draw(st.sampled_from(sorted(_VALUES)))
    query = dns.message.make_query(draw(_NAME), rdtype, use_edns=draw(st.booleans()),
                                   want_dnssec=draw(st.booleans()),
                                   id=draw(st.integers(0, 0xFFFF)))
    response = dns.message.make_response(query)
    rcode = draw(st.sampled_from([dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL]))
    response.set_rcode(rcode)
    if rcode == dns.rcode.NOERROR:
        values = draw(st.lists(_VALUES[rdtype], max_size=25, unique=True))
        if values:
            name = query.question[0].name
            response.answer.append(dns.rrset.from_text(name, draw(st.integers(0, 86400)), "IN",
                                                       rdtype, *values))
    if draw(st.booleans()):
        response.flags |= dns.flags.AA
    return query.to_wire(want_shuffle=False), response.to_wire(want_shuffle=False)


def _framed(wire: bytes) -> bytes:
    return len(wire).to_bytes(2, "big") + wire


@FUZZ
@given(exchanges=st.lists(dns_exchange(), min_size=1, max_size=4), data=st.data())
def test_dns_over_tcp_any_chunking_and_udp_agree(exchanges: list[tuple[bytes, bytes]],
                                                data: st.DataObject) -> None:
    script: Script = [step for q, r in exchanges for step in ((C, _framed(q)), (S, _framed(r)))]
    whole = feed(dissect.make("dns-tcp"), script)
    assert not any(p.malformed for p in whole), [p.summary for p in whole]
    check_every_byte_shown(whole, script)
    udp = [DnsDissector().feed(sender, wire[2:], 0.0)[0] for sender, wire in script]
    assert [(p.summary, p.fields) for p in udp] == [(p.summary, p.fields) for p in whole]
    chunks = chunked(data, script)
    assert views(feed(dissect.make("dns-tcp"), chunks)) == views(whole)


# -- WebSocket ----------------------------------------------------------------------

HANDSHAKE: Script = [
    (C, b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"),
    (S, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
]


def frame(opcode: Opcode, payload: bytes, *, fin: bool = True, key: bytes | None = None) -> bytes:
    """One frame's bytes (RFC 6455 5.2); ``key``: masked with it (a client's frame)."""
    length = len(payload)
    if length < 126:
        size = bytes([length])
    elif length < 2**16:
        size = bytes([126]) + length.to_bytes(2, "big")
    else:
        size = bytes([127]) + length.to_bytes(8, "big")
    mask = 0x80 if key is not None else 0
    head = bytes([(0x80 if fin else 0) | opcode.value, size[0] | mask]) + size[1:]
    return head + (key + unmask(payload, key) if key is not None else payload)


_CONTROL = st.tuples(st.sampled_from([Opcode.PING, Opcode.PONG]), st.binary(max_size=125))
#: Payload sizes past LARGE_FRAME: such frames are counted as they pass, not buffered.
_LARGE = st.integers(LARGE_FRAME - 2, LARGE_FRAME + 3000)


def ws_message(data: st.DataObject) -> list[tuple[Opcode, bytes, bool]]:
    """One message's frames (opcode, payload, fin), maybe fragmented with controls between.

    Large payloads are made from a drawn length, not drawn (see talk.chunked)."""
    if data.draw(st.integers(0, 4), label="message") == 0:
        return [(*data.draw(_CONTROL, label="control"), True)]
    text = data.draw(st.booleans(), label="text")
    if text:
        payload = data.draw(st.text(max_size=200), label="text").encode()
    elif data.draw(st.integers(0, 9), label="large") == 0:
        payload = bytes(range(256)) * 300
        payload = payload[:data.draw(_LARGE, label="length")]
    else:
        payload = data.draw(st.binary(max_size=300), label="binary")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=3), label="cuts"))
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    frames: list[tuple[Opcode, bytes, bool]] = []
    for n, part in enumerate(parts):
        opcode = (Opcode.TEXT if text else Opcode.BINARY) if n == 0 else Opcode.CONT
        frames.append((opcode, part, n == len(parts) - 1))
        if n < len(parts) - 1 and data.draw(st.booleans(), label="control between"):
            frames.append((*data.draw(_CONTROL, label="control"), True))
    return frames


def ws_talk(data: st.DataObject) -> Script:
    """Frames from both sides in any order, client frames masked, maybe a close at the end."""
    script: Script = []
    for sender in data.draw(st.lists(st.sampled_from(list(Sender)), max_size=6), label="turns"):
        for opcode, payload, fin in ws_message(data):
            key = data.draw(st.binary(min_size=4, max_size=4), label="key") if sender is C else None
            script.append((sender, frame(opcode, payload, fin=fin, key=key)))
    if data.draw(st.booleans(), label="close"):
        code = data.draw(st.sampled_from([1000, 1001, 1003, 1011, 3000, 4000]), label="code")
        close = Close(code, data.draw(st.text(max_size=30), label="reason")).serialize()
        script += [(S, frame(Opcode.CLOSE, close)),
                   (C, frame(Opcode.CLOSE, close, key=b"\x01\x02\x03\x04"))]
    return script


@FUZZ
@given(data=st.data())
def test_websocket_frames_any_chunking(data: st.DataObject) -> None:
    talk = ws_talk(data)
    whole = feed(WebSocketDissector(), talk)
    assert not any(p.malformed or p.truncated and p.size <= LARGE_FRAME for p in whole), [
        p.summary for p in whole]
    check_every_byte_shown(whole, talk)
    chunks = chunked(data, talk)
    assert views(feed(WebSocketDissector(), chunks)) == views(whole)


@FUZZ
@given(data=st.data())
def test_websocket_after_the_upgrade_any_chunking(data: st.DataObject) -> None:
    talk = ws_talk(data)
    script = HANDSHAKE + talk
    whole = feed(dissect.make("websocket"), script)
    assert [p.summary for p in whole[:2]] == ["GET /chat", "101 Switching Protocols"]
    assert views(whole[2:]) == views(feed(WebSocketDissector(), talk))
    chunks = chunked(data, script)
    got = feed(dissect.make("websocket"), chunks)
    assert list(map(without_latency, views(got))) == list(map(without_latency, views(whole)))


# -- FTP data -------------------------------------------------------------------------


@FUZZ
@given(talk=st.lists(st.tuples(st.sampled_from(list(Sender)), st.binary(max_size=200)),
                     max_size=6), data=st.data())
def test_ftp_data_any_chunking(talk: Script, data: st.DataObject) -> None:
    whole = feed(dissect.make("ftp-data"), talk)
    assert not any(p.malformed for p in whole)
    check_every_byte_shown(whole, talk)
    chunks = chunked(data, talk)
    assert views(feed(dissect.make("ftp-data"), chunks)) == views(whole)
