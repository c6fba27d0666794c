"""The raw dissector: each chunk as one message, summarised so a person can read it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.raw import PREVIEW, RawDissector, preview
from lab.model import RAW_LIMIT, Sender


def test_text_is_shown_quoted_with_its_size() -> None:
    [piece] = RawDissector().feed(Sender.CLIENT, b"hello", now=1.5)
    assert piece.summary == '"hello" (5 bytes)'
    assert piece.sender is Sender.CLIENT
    assert piece.time == 1.5
    assert piece.raw == b"hello"
    assert piece.size == 5
    assert dict(piece.fields) == {"length": 5}
    assert not piece.truncated and not piece.malformed


def test_one_byte_is_singular() -> None:
    [piece] = RawDissector().feed(Sender.SERVER, b"x", now=0.0)
    assert piece.summary == '"x" (1 byte)'


def test_newlines_tabs_and_backslashes_are_escaped_on_one_line() -> None:
    [piece] = RawDissector().feed(Sender.CLIENT, b"a\\b\tc\r\nd\n", now=0.0)
    assert piece.summary == '"a\\\\b\\tc\\r\\nd\\n" (9 bytes)'
    assert "\n" not in piece.summary and "\r" not in piece.summary


def test_binary_is_shown_as_hex() -> None:
    [piece] = RawDissector().feed(Sender.SERVER, b"\x00\x01\xfe\xff", now=0.0)
    assert piece.summary == "00 01 fe ff (4 bytes)"


def test_control_characters_make_it_binary() -> None:
    assert preview(b"ab\x1bc") == "61 62 1b 63"


def test_utf8_text_is_text() -> None:
    assert preview("héllo wörld".encode()) == '"héllo wörld"'


def test_long_data_is_cut_with_an_ellipsis() -> None:
    data = b"x" * (PREVIEW + 10)
    [piece] = RawDissector().feed(Sender.CLIENT, data, now=0.0)
    assert piece.summary == f'"{"x" * PREVIEW}"… ({PREVIEW + 10} bytes)'
    long_binary = bytes(range(256))
    assert preview(long_binary).endswith("…")
    assert preview(long_binary).startswith("00 01 02")


def test_a_character_split_by_the_cut_still_shows_text() -> None:
    data = b"a" * (PREVIEW - 1) + "é".encode()  # the cut splits the é
    assert preview(data) == f'"{"a" * (PREVIEW - 1)}"…'
    assert preview("Καλημέρα κόσμε, ".encode() * 4).startswith('"Καλημέρα')
    assert preview(b"\xff" * 100).startswith("ff ff")  # bad bytes are still binary


def test_huge_chunk_keeps_a_prefix_and_its_full_size() -> None:
    data = bytes(RAW_LIMIT + 5)
    [piece] = RawDissector().feed(Sender.CLIENT, data, now=0.0)
    assert piece.size == RAW_LIMIT + 5
    assert len(piece.raw) == RAW_LIMIT
    assert piece.truncated


def test_empty_data_and_close_make_nothing() -> None:
    d = RawDissector()
    assert d.feed(Sender.CLIENT, b"", now=0.0) == []
    assert d.close(now=0.0) == []


def test_echo_protocols_and_unknown_ones_use_the_raw_dissector() -> None:
    for name in ("raw", "tcp-echo", "udp-echo", "no-such-protocol"):
        assert isinstance(dissect.make(name), RawDissector)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(list(Sender)))
def test_any_bytes_give_one_piece_of_the_same_size(data: bytes, sender: Sender) -> None:
    pieces = RawDissector().feed(sender, data, now=0.0)
    if not data:
        assert pieces == []
        return
    [piece] = pieces
    assert piece.size == len(data)
    assert piece.raw == data
    assert piece.sender is sender
    assert "\n" not in piece.summary and "\r" not in piece.summary
    assert piece.summary.endswith(f"({len(data)} byte{'s' if len(data) != 1 else ''})")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=PREVIEW).filter(lambda t: len(t.encode()) <= PREVIEW))
def test_text_is_shown_as_text_exactly_when_every_character_prints(text: str) -> None:
    readable = all(c.isprintable() or c in "\r\n\t" for c in text)
    assert preview(text.encode()).startswith('"') == readable
