"""What the fuzz tests share: recorded conversations, feeding a dissector, and
what every Piece promises whatever the bytes.

A *script* is a list of ``(sender, bytes)`` steps fed in order, each at
``now`` = its index; the connection closes after the last one.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Sequence
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st

from lab.dissect import Dissector
from lab.model import RAW_LIMIT, Piece, Sender

Step = tuple[Sender, bytes]
Script = list[Step]
#: What a user sees of a Piece, its time aside: a re-chunked conversation must
#: give exactly these, in this order.
View = tuple[object, ...]

#: The fuzz profile (tests/fuzz/conftest.py): CSLAB_FUZZ_EXAMPLES examples a test.
FUZZ = settings(settings.get_profile("fuzz"))

DATA = Path(__file__).with_name("data")
#: Chunk sizes at the edges of the dissectors' buffers and of a Piece's raw bytes.
_NEAR_LIMITS = [RAW_LIMIT - 1, RAW_LIMIT, RAW_LIMIT + 1, 2 * RAW_LIMIT + 3]
#: Fragments no recording has: line breaks that are not CR or LF, a NUL, a lone CR.
_ODD = [c.encode() for c in "\x85\u2028\u2029\x00\r"] + [b"\xff\xfe", b"\r\n"]
_NO_NEWLINE = st.binary(min_size=1, max_size=3).map(lambda unit: unit.replace(b"\n", b"."))
C, S = Sender.CLIENT, Sender.SERVER


@functools.cache
def recorded(name: str) -> tuple[tuple[Step, ...], ...]:
    """The conversations recorded for ``name`` (tests/fuzz/data/<name>.json), or none."""
    path = DATA / f"{name}.json"
    if not path.exists():
        return ()
    return tuple(
        tuple((Sender(step["sender"]), base64.b64decode(step["data"])) for step in conv)
        for conv in json.loads(path.read_text())
    )


def feed(d: Dissector, script: Sequence[Step], *, close: bool = True) -> list[Piece]:
    """Every Piece ``d`` makes of ``script`` (and of the close), each checked as it comes."""
    pieces: list[Piece] = []
    for i, (sender, data) in enumerate(script):
        out = d.feed(sender, data, float(i))
        for piece in out:
            check_piece(piece, float(i))
        pieces += out
    if close:
        out = d.close(float(len(script)))
        for piece in out:
            check_piece(piece, float(len(script)))
        pieces += out
    return pieces


def check_piece(piece: Piece, now: float) -> None:
    """What the Piece type promises, whatever bytes it came from."""
    assert isinstance(piece, Piece), piece
    assert isinstance(piece.sender, Sender)
    assert 0.0 <= piece.time <= now, (piece.time, now)
    assert isinstance(piece.summary, str) and piece.summary.strip(), piece
    assert len(piece.summary.splitlines()) == 1, repr(piece.summary)  # no CR, LF, NEL, LS…
    assert isinstance(piece.raw, bytes)
    assert len(piece.raw) <= RAW_LIMIT, len(piece.raw)
    assert len(piece.raw) <= piece.size, (len(piece.raw), piece.size)
    if piece.size > len(piece.raw):
        assert piece.truncated, piece.summary
    for name, value in piece.fields:
        assert isinstance(name, str) and name, piece.fields
        assert value is None or isinstance(value, str | int | float | bool), (name, value)
    if piece.malformed:
        reason = dict(piece.fields).get("error")
        assert isinstance(reason, str) and reason, f"a malformed Piece says why: {piece}"


def check_every_byte_shown(pieces: Sequence[Piece], script: Sequence[Step]) -> None:
    """Each direction's bytes are in its Pieces exactly once: sizes add up, raw in order."""
    for sender in Sender:
        sent = b"".join(data for who, data in script if who is sender)
        mine = [p for p in pieces if p.sender is sender]
        assert sum(p.size for p in mine) == len(sent), (sender, [p.summary for p in mine])
        if all(len(p.raw) == p.size for p in mine):
            assert b"".join(p.raw for p in mine) == sent, sender


def view(piece: Piece) -> View:
    return (piece.sender, piece.summary, piece.fields, piece.raw, piece.size,
            piece.truncated, piece.malformed)


def views(pieces: Sequence[Piece]) -> list[View]:
    return [view(p) for p in pieces]


def without_latency(v: View) -> View:
    """A View without HTTP's ``latency ms`` field, which depends on when bytes came."""
    sender, summary, fields, *rest = v
    assert isinstance(fields, tuple)
    return (sender, summary, tuple(f for f in fields if f[0] != "latency ms"), *rest)


# -- strategies -----------------------------------------------------------------------


def runs(script: Sequence[Step]) -> list[Step]:
    """Adjacent steps of one sender joined: the bytes between two turns of the other."""
    joined: list[Step] = []
    for sender, data in script:
        if joined and joined[-1][0] is sender:
            joined[-1] = (sender, joined[-1][1] + data)
        else:
            joined.append((sender, data))
    return joined


def chunked(data: st.DataObject, script: Sequence[Step]) -> Script:
    """``script``'s bytes in the same turns, cut at arbitrary points (empty chunks too).

    Only the cut points are drawn: Hypothesis keeps every value a test draws (about
    10,000 examples' worth), so bytes are made here, not drawn.
    """
    out: Script = []
    for sender, whole in runs(script):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(whole)), max_size=12), label="cuts"))
        for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True):
            out.append((sender, whole[a:b]))
    return out


_KINDS = ["random", "fragment", "slice", "bent", "repeated", "long line"]


def _chunk(data: st.DataObject, fragments: Sequence[bytes]) -> bytes:
    """Random bytes; a real fragment, a slice of one, one with a byte changed; a unit
    repeated; or one long line at the buffer limits (as many newlines would be 65,536
    Pieces: slow, and nothing new)."""
    kind = data.draw(st.sampled_from(_KINDS), label="kind")
    if kind == "random":
        return data.draw(st.binary(max_size=64), label="bytes")
    if kind == "repeated":
        unit, n = data.draw(st.tuples(st.binary(min_size=1, max_size=4), st.integers(0, 2_000)))
        return unit * n
    if kind == "long line":
        unit, n = data.draw(st.tuples(_NO_NEWLINE, st.sampled_from(_NEAR_LIMITS)))
        return (unit * n)[:n]
    fragment = fragments[data.draw(st.integers(0, len(fragments) - 1), label="fragment")]
    size = len(fragment)
    if kind == "slice":
        a, b = data.draw(st.tuples(st.integers(0, size), st.integers(0, size)), label="slice")
        return fragment[min(a, b):max(a, b)]
    if kind == "bent" and size:
        at, byte = data.draw(st.tuples(st.integers(0, size - 1), st.integers(0, 255)))
        return fragment[:at] + bytes([byte]) + fragment[at + 1:]
    return fragment


def hostile(data: st.DataObject, conversations: Sequence[Sequence[Step]]) -> Script:
    """Arbitrary chunks from both sides, often after a real conversation's first steps
    (so the dissector is deep in some state), mixed with real, cut and bent pieces."""
    script: Script = []
    after_a_start: bool = data.draw(st.booleans(), label="after a real start")
    if conversations and after_a_start:
        conversation = conversations[data.draw(st.integers(0, len(conversations) - 1))]
        script += conversation[:data.draw(st.integers(0, len(conversation)), label="steps")]
    fragments = sorted({chunk for conv in conversations for _, chunk in conv}) + _ODD
    for _ in range(data.draw(st.integers(0, 12), label="chunks")):
        sender = data.draw(st.sampled_from(list(Sender)), label="from")
        script.append((sender, _chunk(data, fragments)))
    return script
