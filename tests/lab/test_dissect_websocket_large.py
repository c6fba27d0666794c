"""The WebSocket dissector on large frames: bounded memory whatever the frame's size
or the chunks it comes in, and the same Piece as a small frame would give."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Iterable

import pytest

from lab.dissect.websocket import LARGE_FRAME, WebSocketDissector
from lab.dissect.ws_frames import PAYLOAD_PREVIEW
from lab.model import RAW_LIMIT, Piece, Sender
from tests.lab.dissect_helpers import fields
from tests.lab.test_dissect_websocket import BINARY, CONT, KEY, TEXT, C, S, client, frame

#: Memory one direction may hold at its peak (a frame is at most LARGE_FRAME bytes).
PEAK_LIMIT = 256 * 1024


def feed_traced(d: WebSocketDissector, sender: Sender,
                chunks: Iterable[bytes]) -> tuple[list[Piece], int]:
    """Feed every chunk (made before tracing starts); the Pieces and the peak memory."""
    tracemalloc.start()
    try:
        pieces = [p for chunk in chunks for p in d.feed(sender, chunk, now=1.0)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return pieces, peak


def test_a_large_frame_is_counted_not_buffered() -> None:
    size = 3 * 1024 * 1024
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", size) + KEY
    block = client(BINARY, b"abcd" * 16384)[2 + 8 + 4:]  # 64 KiB, masked, key-aligned
    d = WebSocketDissector()
    pieces, peak = feed_traced(d, C, [header] + [block] * (size // len(block)))
    pieces += d.feed(C, client(TEXT, b"after"), now=2.0)
    big, after = pieces
    assert peak < PEAK_LIMIT, peak
    assert big.summary == f"BINARY 61 62 63 64 61 62 63 64 61 62 63 64 61 62 63 64… ({size} bytes)"
    assert (big.size, big.truncated, big.malformed) == (len(header) + size, True, False)
    assert big.raw == (header + block)[:RAW_LIMIT]
    assert fields(big)["masking key"] == "37fa213d" and fields(big)["payload length"] == size
    assert after.summary == 'TEXT "after" (5 bytes)'


@pytest.mark.parametrize("sender", [C, S])
@pytest.mark.parametrize("chunk", [None, 1460, 65536])
def test_a_1_mb_frame_is_held_once_at_most_whatever_the_chunks(sender: Sender,
                                                               chunk: int | None) -> None:
    """Nothing holds the frame whole (a copy in websockets' reader and one beside it
    took about 4 MB here)."""
    payload = bytes(range(256)) * 3906 + b"end!"  # 1,000,000 bytes
    data = (client(BINARY, payload) if sender is C else frame(BINARY, payload))
    after = client(TEXT, b"after") if sender is C else frame(TEXT, b"after")
    stream = data + after
    chunks = [stream] if chunk is None else [stream[i:i + chunk]
                                             for i in range(0, len(stream), chunk)]
    pieces, peak = feed_traced(WebSocketDissector(), sender, chunks)
    assert peak < PEAK_LIMIT, peak
    big, last = pieces
    assert (big.size, big.raw, big.truncated) == (len(data), data[:RAW_LIMIT], True)
    assert fields(big)["payload length"] == len(payload)
    assert fields(big)["payload hex"] == payload[:256].hex(" ")
    assert last.summary == 'TEXT "after" (5 bytes)' and not last.malformed


def test_frames_either_side_of_the_threshold_look_alike() -> None:
    """One payload byte more and the frame is counted instead of buffered: its Piece
    is the same but for the length."""
    buffered, counted = (client(TEXT, b"y" * n) for n in (LARGE_FRAME, LARGE_FRAME + 1))
    a, b = WebSocketDissector().feed(C, buffered, 0.0) + WebSocketDissector().feed(C, counted, 0.0)
    assert (a.raw, b.raw) == (buffered[:RAW_LIMIT], counted[:RAW_LIMIT])
    assert (a.size, b.size, a.truncated, b.truncated) == (len(buffered), len(counted), True, True)
    assert a.summary.replace(str(LARGE_FRAME), str(LARGE_FRAME + 1)) == b.summary
    assert fields(a)["payload text"] == fields(b)["payload text"] == "y" * PAYLOAD_PREVIEW


def test_a_message_of_large_fragments_keeps_a_bounded_text() -> None:
    first, last = WebSocketDissector().feed(
        S, frame(TEXT, b"a" * 100_000, fin=False) + frame(CONT, b"b" * 100_000), 0.0)
    assert first.summary.startswith("TEXT (fragment 1, more to come) \"aaaa")
    assert last.summary.startswith('CONTINUATION (last, message of 2 frames: "aaaa')
    assert last.summary.endswith("…, 200000 bytes)")
    message = fields(last)
    assert (message["message frames"], message["message length"]) == (2, 200_000)
    assert message["message text"] == "a" * PAYLOAD_PREVIEW


def test_a_large_frame_cut_off_by_the_end_of_the_connection() -> None:
    header = bytes([0x81, 127]) + struct.pack("!Q", 2 * LARGE_FRAME)
    d = WebSocketDissector()
    assert d.feed(S, header + b"x" * 1000, now=0.0) == []
    [cut] = d.close(now=1.0)
    assert cut.summary == (f"incomplete TEXT frame: {len(header) + 1000} of "
                           f"{len(header) + 2 * LARGE_FRAME} bytes before the connection ended")
    assert cut.size == len(header) + 1000 and cut.truncated
    assert fields(cut)["payload text"] == "x" * 1000


def test_a_frame_cut_short_shows_at_close() -> None:
    d = WebSocketDissector()
    assert d.feed(C, client(TEXT, b"hello")[:7], now=0.0) == []
    [cut] = d.close(now=1.0)
    assert cut.summary == "incomplete frame: the connection ended 7 bytes into it"
    assert cut.size == 7 and cut.truncated
