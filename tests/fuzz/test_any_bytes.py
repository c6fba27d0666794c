"""Arbitrary bytes, in both directions, cut anywhere and interleaved, then the close:
no dissector raises, and every Piece is sane (tests/fuzz/talk.py says what that means)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.websocket import WebSocketDissector
from tests.fuzz.talk import FUZZ, Script, check_every_byte_shown, feed, hostile, recorded
from tests.fuzz.test_grammar import ws_talk

#: Each registered dissector, and the recorded conversations whose bytes seed its input.
SEEDS: dict[str, tuple[str, ...]] = {
    "dns": ("dns",),
    "dns-tcp": ("dns-tcp",),
    "ftp": ("ftp",),
    "ftp-data": ("ftp",),
    "http": ("http", "websocket"),
    "pop3": ("pop3",),
    "raw": ("http", "smtp"),
    "smtp": ("smtp",),
    "tcp-echo": ("smtp",),
    "udp-echo": ("dns",),
    "websocket": ("websocket",),
}


def test_every_registered_dissector_is_fuzzed() -> None:
    assert sorted(SEEDS) == dissect.protocols()


def seeded(data: st.DataObject, protocol: str) -> Script:
    return hostile(data, [list(conv) for name in SEEDS[protocol] for conv in recorded(name)])


@pytest.mark.parametrize("protocol", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_any_bytes_never_raise_and_every_byte_is_shown(protocol: str, data: st.DataObject) -> None:
    script = seeded(data, protocol)
    pieces = feed(dissect.make(protocol), script)
    check_every_byte_shown(pieces, script)


@FUZZ
@given(data=st.data())
def test_websocket_frames_any_bytes(data: st.DataObject) -> None:
    """The frame reader itself (behind the upgrade): real frames, then anything."""
    talk = ws_talk(data)
    script = talk[:data.draw(st.integers(0, len(talk)), label="kept")] + hostile(data, [talk])
    pieces = feed(WebSocketDissector(), script)
    check_every_byte_shown(pieces, script)
