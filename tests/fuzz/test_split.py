"""Real conversations, recorded from the lab's servers with real clients
(tests/fuzz/data/, made by tests/fuzz/record.py), give the same Messages however
their bytes are cut into chunks: summary, fields, raw bytes, sender and order.

Each side's turn keeps its place (a reply still comes after what it answers);
within and across the steps of a turn the bytes are cut anywhere, empty chunks
included. The datagram and chunk protocols (dns, raw, the echoes) are not here:
their Messages are the datagrams and chunks by design.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab import dissect
from tests.fuzz.talk import (
    FUZZ,
    check_every_byte_shown,
    chunked,
    feed,
    recorded,
    views,
    without_latency,
)

STREAMS = ["dns-tcp", "ftp", "http", "pop3", "smtp", "websocket"]
CASES = [(name, i) for name in STREAMS for i in range(len(recorded(name)))]


def test_every_stream_protocol_has_recordings() -> None:
    assert all(recorded(name) for name in STREAMS)


@pytest.mark.parametrize(("protocol", "index"), CASES)
def test_a_recorded_conversation_is_dissected_cleanly(protocol: str, index: int) -> None:
    script = recorded(protocol)[index]
    pieces = feed(dissect.make(protocol), script)
    assert not any(p.malformed or p.truncated for p in pieces), [p.summary for p in pieces]
    check_every_byte_shown(pieces, script)
    assert {p.sender for p in pieces} == {s for s, _ in script}


@pytest.mark.parametrize(("protocol", "index"), CASES)
@FUZZ
@given(data=st.data())
def test_any_chunking_gives_the_same_messages(protocol: str, index: int,
                                              data: st.DataObject) -> None:
    script = recorded(protocol)[index]
    whole = views(feed(dissect.make(protocol), script))
    chunks = chunked(data, script)
    pieces = views(feed(dissect.make(protocol), chunks))
    if protocol in ("http", "websocket"):  # the time between request and response varies
        whole, pieces = list(map(without_latency, whole)), list(map(without_latency, pieces))
    assert pieces == whole
