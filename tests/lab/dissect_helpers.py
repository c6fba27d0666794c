"""What the dissector tests share: feeding a script of (sender, bytes) and reading
the Pieces back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lab.dissect import Dissector
from lab.model import FieldValue, Piece, Sender

Script = Sequence[tuple[Sender, bytes]]


def feed_script(d: Dissector, script: Script, *, close: bool = False) -> list[Piece]:
    """Feed each (sender, bytes) at time = its index; return every Piece, close's too."""
    pieces: list[Piece] = []
    for i, (sender, data) in enumerate(script):
        pieces += d.feed(sender, data, now=float(i))
    return pieces + (d.close(now=float(len(script))) if close else [])


def greeted(d: Dissector, greeting: bytes) -> Dissector:
    """``d`` after it saw the server's greeting (whose Piece is dropped)."""
    d.feed(Sender.SERVER, greeting, now=-1.0)
    return d


def fields(piece: Piece) -> dict[str, FieldValue]:
    return dict(piece.fields)


def summaries(pieces: Iterable[Piece]) -> list[str]:
    return [p.summary for p in pieces]


def sent(script: Script, sender: Sender) -> bytes:
    return b"".join(data for who, data in script if who is sender)
