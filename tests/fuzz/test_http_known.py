"""What the HTTP fuzzing found in lab/dissect/http*.py, kept as explicit examples:
a head cut off by the close says why in its fields, and a summary stays on one
line whatever the reason phrase holds."""

from __future__ import annotations

import pytest

from lab import dissect
from lab.model import Sender


@pytest.mark.parametrize("protocol", ["http", "websocket"])
def test_a_head_cut_off_at_the_close_says_why_in_its_fields(protocol: str) -> None:
    d = dissect.make(protocol)
    assert d.feed(Sender.CLIENT, b"!", 0.0) == []
    [piece] = d.close(1.0)
    assert piece.malformed and piece.summary == "incomplete request: head cut off after 1 bytes"
    assert dict(piece.fields).get("error") == "head cut off after 1 bytes"


def test_a_summary_stays_on_one_line() -> None:
    d = dissect.make("http")
    d.feed(Sender.CLIENT, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0.0)
    [piece] = d.feed(Sender.SERVER, "HTTP/1.1 200 O\u2028K\r\nContent-Length: 0\r\n\r\n"
                     .encode(), 1.0)
    assert len(piece.summary.splitlines()) == 1, piece.summary


def test_a_very_long_target_gives_a_bounded_summary_and_keeps_it_whole_in_the_fields() -> None:
    target = "/" + "a" * 60_000
    d = dissect.make("http")
    [piece] = d.feed(Sender.CLIENT, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 0.0)
    assert len(piece.summary) <= 2000 and piece.summary.startswith("GET /aaa")
    assert piece.summary.endswith("…") and dict(piece.fields)["target"] == target
