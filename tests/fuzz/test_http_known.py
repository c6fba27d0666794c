"""What the HTTP fuzzing found in lab/dissect/http*.py, kept as explicit examples.

That dissector is being rewritten by someone else, so these are marked xfail
(strict: they fail the run once fixed, so the mark and the fuzz tests' leniency
are removed then) rather than fixed here.
"""

from __future__ import annotations

import pytest

from lab import dissect
from lab.model import Sender


@pytest.mark.xfail(strict=True, reason=(
    "http.py _incomplete: a head cut off by the close is malformed but has no "
    "('error', …) field, unlike every other dissector's malformed Pieces"))
@pytest.mark.parametrize("protocol", ["http", "websocket"])
def test_a_head_cut_off_at_the_close_says_why_in_its_fields(protocol: str) -> None:
    d = dissect.make(protocol)
    assert d.feed(Sender.CLIENT, b"!", 0.0) == []
    [piece] = d.close(1.0)
    assert piece.malformed and piece.summary == "incomplete request: head cut off after 1 bytes"
    assert dict(piece.fields).get("error") == "head cut off after 1 bytes"
