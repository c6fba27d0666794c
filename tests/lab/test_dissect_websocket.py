"""The WebSocket dissector on bytes alone: the upgrade, then one Piece per frame."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.http import UPGRADES, HttpDissector
from lab.dissect.websocket import WebSocketDissector
from lab.dissect.ws_frames import COMPRESSED_NOTE, PAYLOAD_PREVIEW
from lab.model import RAW_LIMIT, Piece, Sender
from lab.pairing import Pairer
from tests.lab.dissect_helpers import Script, feed_script, fields, summaries

C, S = Sender.CLIENT, Sender.SERVER
KEY = bytes.fromhex("37fa213d")
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA

UPGRADE = (
    b"GET /?name=ana HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
SWITCH = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def frame(opcode: int, payload: bytes = b"", *, key: bytes | None = None, fin: bool = True,
          rsv1: bool = False) -> bytes:
    """A frame as RFC 6455 lays it out; masked with ``key`` when one is given."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask = 0x80 if key is not None else 0
    n = len(payload)
    if n < 126:
        head = bytes([first, mask | n])
    elif n < 65536:
        head = bytes([first, mask | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, mask | 127]) + struct.pack("!Q", n)
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def client(opcode: int, payload: bytes = b"", **kw: bool) -> bytes:
    return frame(opcode, payload, key=KEY, **kw)


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


def frames(script: Script, *, close: bool = False) -> list[Piece]:
    return feed_script(WebSocketDissector(), script, close=close)


# -- the upgrade, then frames --------------------------------------------------------


def test_a_websocket_wire_reads_the_upgrade_then_frames() -> None:
    assert isinstance(dissect.make("websocket"), HttpDissector)
    assert UPGRADES["websocket"] is WebSocketDissector
    script = [(C, UPGRADE), (S, SWITCH + frame(TEXT, b"* ana joined")),
              (C, client(TEXT, b"hello")), (S, frame(TEXT, b"ana: hello"))]
    pieces = feed_script(dissect.make("websocket"), script)
    assert summaries(pieces) == ["GET /?name=ana", "101 Switching Protocols",
                                 'TEXT "* ana joined" (12 bytes)', 'TEXT "hello" (5 bytes)',
                                 'TEXT "ana: hello" (10 bytes)']
    assert [p.sender for p in pieces] == [C, S, S, C, S]
    assert pieces[0].raw == UPGRADE and pieces[1].raw == SWITCH
    assert fields(pieces[1])["request"] == "GET /?name=ana"
    assert pieces[3].raw == client(TEXT, b"hello") and pieces[3].size == 11
    assert pieces[3].fields == (("opcode", "TEXT"), ("fin", True), ("rsv1", False),
                                ("masked", True), ("masking key", "37fa213d"),
                                ("payload length", 5), ("payload text", "hello"))
    assert pieces[4].fields == (("opcode", "TEXT"), ("fin", True), ("rsv1", False),
                                ("masked", False), ("payload length", 10),
                                ("payload text", "ana: hello"))
    assert not any(p.malformed or p.truncated for p in pieces)


def test_the_rfc_examples() -> None:
    """RFC 6455 section 5.7, byte for byte."""
    masked_hello = bytes.fromhex("818537fa213d7f9f4d5158")
    ping = bytes.fromhex("890548656c6c6f")
    masked_pong = bytes.fromhex("8a8537fa213d7f9f4d5158")
    hello, pong = frames([(C, masked_hello), (C, masked_pong)])
    [ping_piece] = frames([(S, ping)])
    assert hello.summary == 'TEXT "Hello" (5 bytes)'
    assert fields(hello)["masking key"] == "37fa213d"
    assert ping_piece.summary == "PING (5 bytes)"
    assert fields(ping_piece)["payload hex"] == "48 65 6c 6c 6f"
    assert pong.summary == "PONG (5 bytes)" and fields(pong)["masked"] is True


def test_empty_ping_and_pong_and_binary() -> None:
    pieces = frames([(S, frame(PING)), (C, client(PONG)),
                     (C, client(BINARY, bytes(range(20))))])
    assert summaries(pieces) == [
        "PING", "PONG",
        "BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f… (20 bytes)"]
    assert fields(pieces[2])["payload hex"] == bytes(range(20)).hex(" ")


def test_16_and_64_bit_lengths_put_the_key_after_them() -> None:
    medium, large = b"m" * 200, b"x" * 70000
    a, b = frames([(C, client(TEXT, medium)), (C, client(TEXT, large))])
    assert fields(a)["masking key"] == "37fa213d" and fields(a)["payload text"] == medium.decode()
    assert (a.size, a.truncated) == (2 + 2 + 4 + 200, False)
    assert fields(b)["masking key"] == "37fa213d" and fields(b)["payload length"] == 70000
    assert fields(b)["payload text"] == "x" * PAYLOAD_PREVIEW  # a bounded prefix
    assert (b.size, len(b.raw), b.truncated) == (2 + 8 + 4 + 70000, RAW_LIMIT, True)
    assert b.summary.startswith('TEXT "xxxx') and b.summary.endswith('"… (70000 bytes)')


# -- fragmented messages ---------------------------------------------------------------


def test_each_fragment_is_a_piece_and_the_last_carries_the_message() -> None:
    script = [(C, client(TEXT, b"hello ", fin=False)), (C, client(PING, b"")),
              (C, client(CONT, b"wor", fin=False)), (C, client(CONT, b"ld")),
              (C, client(TEXT, b"next"))]
    pieces = frames(script)
    assert summaries(pieces) == [
        'TEXT (fragment 1, more to come) "hello " (6 bytes)',
        "PING",  # a control frame may come between fragments
        'CONTINUATION (fragment 2, more to come) "wor" (3 bytes)',
        'CONTINUATION (last, message of 3 frames: "hello world", 11 bytes)',
        'TEXT "next" (4 bytes)',
    ]
    last = fields(pieces[3])
    assert (last["fin"], last["payload text"], last["fragment"]) == (True, "ld", 3)
    assert (last["message frames"], last["message length"], last["message text"]) == (
        3, 11, "hello world")
    assert fields(pieces[0])["fin"] is False and "message text" not in fields(pieces[0])
    assert not any(p.malformed for p in pieces)


def test_the_rfc_fragmented_server_message() -> None:
    first, last = frames([(S, bytes.fromhex("010348656c")), (S, bytes.fromhex("80026c6f"))])
    assert first.summary == 'TEXT (fragment 1, more to come) "Hel" (3 bytes)'
    assert last.summary == 'CONTINUATION (last, message of 2 frames: "Hello", 5 bytes)'


# -- close -----------------------------------------------------------------------------


def test_close_frames_show_code_meaning_and_reason() -> None:
    pieces = frames([(C, client(CLOSE, close_payload(1000, "bye"))),
                     (S, frame(CLOSE, close_payload(1009, "message over 65536 bytes"))),
                     (S, frame(CLOSE)), (C, client(CLOSE, close_payload(4000, "kicked")))])
    assert summaries(pieces) == ['CLOSE 1000 (normal closure) "bye"',
                                 'CLOSE 1009 (message too big) "message over 65536 bytes"',
                                 "CLOSE (no status code)",
                                 'CLOSE 4000 (private: the application\'s own) "kicked"']
    assert fields(pieces[0])["close code"] == 1000
    assert fields(pieces[0])["close reason"] == "bye"
    assert fields(pieces[1])["close meaning"] == "message too big"


def test_a_close_code_nobody_may_send_is_malformed() -> None:
    [bad] = frames([(S, frame(CLOSE, close_payload(999)))])
    assert bad.malformed and bad.summary == "malformed server frame: invalid status code"


# -- permessage-deflate --------------------------------------------------------------


def test_rsv1_frames_are_noted_as_compressed_not_malformed() -> None:
    deflated = bytes.fromhex("f248cdc9c90700")
    pieces = frames([(S, frame(TEXT, deflated, rsv1=True)),
                     (C, client(TEXT, deflated[:3], rsv1=True, fin=False)),
                     (C, client(CONT, deflated[3:]))])
    assert summaries(pieces) == [
        "TEXT compressed, not decoded (7 bytes)",
        "TEXT (fragment 1, more to come) compressed, not decoded (3 bytes)",
        "CONTINUATION (last, message of 2 frames: compressed, not decoded, 7 bytes)"]
    assert not any(p.malformed for p in pieces)
    one = fields(pieces[0])
    assert (one["rsv1"], one["note"], one["payload hex"]) == (True, COMPRESSED_NOTE,
                                                              deflated.hex(" "))
    assert fields(pieces[2])["note"] == COMPRESSED_NOTE


# -- protocol errors -------------------------------------------------------------------


def test_a_bad_opcode_is_malformed_and_that_direction_goes_raw() -> None:
    d = WebSocketDissector()
    bad = bytes([0x83, 0x01, 0x00])
    [piece] = d.feed(S, bad, now=0.0)
    assert piece.malformed and piece.summary == "malformed server frame: invalid opcode"
    assert piece.raw == bad and fields(piece)["error"] == "invalid opcode"
    later = d.feed(S, frame(TEXT, b"still here"), now=1.0)  # raw from now on, no error
    assert [(p.raw, p.malformed) for p in later] == [(frame(TEXT, b"still here"), False)]
    [other] = d.feed(C, client(TEXT, b"hi"), now=2.0)  # the other direction is unharmed
    assert other.summary == 'TEXT "hi" (2 bytes)'
    assert d.close(now=3.0) == []


def test_masking_must_match_the_direction() -> None:
    [unmasked] = frames([(C, frame(TEXT, b"hi"))])
    [masked] = frames([(S, client(TEXT, b"hi"))])
    assert unmasked.summary == "malformed client frame: incorrect masking"
    assert masked.summary == "malformed server frame: incorrect masking"


def test_frame_sequence_errors_are_malformed() -> None:
    cases = {
        "a CONTINUATION frame with no fragmented message to continue": [client(CONT, b"x")],
        "a new TEXT message before the fragmented one ended": [
            client(TEXT, b"a", fin=False), client(TEXT, b"b")],
        "fragmented control frame": [client(PING, fin=False)],
        "control frame too long": [client(PING, b"p" * 126)],
        "reserved bits must be 0": [bytes([0xA1, 0x80]) + KEY],
    }
    for reason, data in cases.items():
        pieces = frames([(C, chunk) for chunk in data])
        assert pieces[-1].summary == f"malformed client frame: {reason}"
        assert [p.malformed for p in pieces] == [False] * (len(pieces) - 1) + [True]


# -- any chunking ----------------------------------------------------------------------

CONVERSATION: Script = [
    (C, UPGRADE), (S, SWITCH + frame(TEXT, b"* ana joined")),
    (C, client(TEXT, b"hi ", fin=False)), (S, frame(PING, b"ka")),
    (C, client(PONG, b"ka") + client(CONT, b"there")), (S, frame(TEXT, b"ana: hi there")),
    (C, client(CLOSE, close_payload(1000, "bye"))), (S, frame(CLOSE, close_payload(1000, "bye"))),
]


def at_once(script: Script) -> list[Piece]:
    """Every Piece at time 0, so that only the chunking differs between runs."""
    d = dissect.make("websocket")
    pieces = [p for who, data in script for p in d.feed(who, data, now=0.0)]
    return pieces + d.close(now=0.0)


def test_every_split_point_gives_the_same_pieces() -> None:
    whole = at_once(CONVERSATION)
    assert len(whole) == 10 and not any(p.malformed or p.truncated for p in whole)
    for i, (who, data) in enumerate(CONVERSATION):
        for cut in range(1, len(data)):
            split = [*CONVERSATION[:i], (who, data[:cut]), (who, data[cut:]),
                     *CONVERSATION[i + 1:]]
            assert at_once(split) == whole, (i, cut)
    bytewise = [(who, data[n:n + 1]) for who, data in CONVERSATION for n in range(len(data))]
    assert at_once(bytewise) == whole


@st.composite
def valid_frames(draw: st.DrawFn) -> Script:
    script: list[tuple[Sender, bytes]] = []
    for _ in range(draw(st.integers(1, 6))):
        sender = draw(st.sampled_from(list(Sender)))
        opcode = draw(st.sampled_from([TEXT, BINARY, PING, PONG]))
        limit = 125 if opcode in (PING, PONG) else 300
        payload = draw(st.binary(max_size=limit))
        if opcode == TEXT:
            payload = draw(st.text(max_size=limit)).encode()[:limit]
        key = draw(st.binary(min_size=4, max_size=4)) if sender is C else None
        script.append((sender, frame(opcode, payload, key=key)))
    return script


@settings(max_examples=150, deadline=None)
@given(valid_frames(), st.data())
def test_any_split_of_valid_frames_gives_the_same_pieces(script: Script,
                                                         data: st.DataObject) -> None:
    whole = at_once([(C, UPGRADE), (S, SWITCH), *script])
    assert not any(p.malformed for p in whole) and len(whole) == 2 + len(script)
    chunks: list[tuple[Sender, bytes]] = []
    for who, raw in script:
        cuts = sorted(set(data.draw(st.lists(st.integers(1, len(raw) - 1), max_size=4))))
        chunks += [(who, raw[a:b]) for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert at_once([(C, UPGRADE), (S, SWITCH), *chunks]) == whole


_FRAGMENTS = [UPGRADE, SWITCH, frame(TEXT, b"hi"), client(TEXT, b"yo"), frame(CLOSE),
              client(CONT, b"x", fin=False), frame(PING, b"p"), bytes([0x81, 127])]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Sender)),
                          st.one_of(st.binary(max_size=40), st.sampled_from(_FRAGMENTS))),
                max_size=12),
       st.booleans())
def test_any_bytes_never_raise_and_every_byte_is_shown(script: list[tuple[Sender, bytes]],
                                                        upgraded: bool) -> None:
    d = WebSocketDissector() if not upgraded else dissect.make("websocket")
    pieces = feed_script(d, script, close=True)
    for sender in Sender:
        fed = sum(len(data) for who, data in script if who is sender)
        assert sum(p.size for p in pieces if p.sender is sender) == fed
    assert all(len(p.raw) <= RAW_LIMIT and "\n" not in p.summary for p in pieces)


def test_the_101_pairs_with_the_upgrade_and_frames_pair_with_nothing() -> None:
    pairer = Pairer()
    pieces = at_once(CONVERSATION)
    answers = [pairer.add(n, protocol="websocket", connection="c1",
                          from_client=p.sender is C, first_field=p.fields[0])
               for n, p in enumerate(pieces, start=1)]
    assert answers == [None, 1] + [None] * (len(pieces) - 2)
