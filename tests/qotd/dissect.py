"""The qotd dissector: sans-IO, one Piece per line (``QUOTE 2`` / ``200 <quote>``)."""

from __future__ import annotations

from lab.dissect import register
from lab.dissect.lines import LineReader
from lab.model import FieldValue, Piece, Sender


class QotdDissector:
    def __init__(self) -> None:
        self._readers = {Sender.CLIENT: LineReader(), Sender.SERVER: LineReader()}

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        pieces: list[Piece] = []
        reader, pos = self._readers[sender], 0
        while pos < len(data):
            line, pos = reader.read(data, pos)
            if line is not None:
                pieces.append(_piece(sender, line.data, now))
        return pieces

    def close(self, now: float) -> list[Piece]:
        return [_piece(sender, rest.data, now) for sender, reader in self._readers.items()
                if (rest := reader.rest()) is not None]


def _piece(sender: Sender, data: bytes, now: float) -> Piece:
    text = data.decode("utf-8", "replace").strip()
    head, _, rest = text.partition(" ")
    fields: list[tuple[str, FieldValue]]
    if sender is Sender.CLIENT:
        fields = [("command", head.upper())]
        fields += [("number", rest)] if rest else []
        summary = f"asks for quote {rest}" if rest else "asks for today's quote"
    else:
        fields = [("code", int(head) if head.isdigit() else head), ("quote", rest)]
        summary = f"quote: {rest}" if head == "200" else f"no quote ({text})"
    return Piece(sender=sender, time=now, summary=summary, raw=data, size=len(data),
                 fields=tuple(fields), malformed=not text)


register("qotd", QotdDissector)
