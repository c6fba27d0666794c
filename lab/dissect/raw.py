"""The raw dissector: each chunk of bytes as it crossed is one message.

Used for the echo protocols and for a bare relay: a TCP read or a UDP datagram
becomes one Message whose summary shows its text (or hex when it is binary).
"""

from __future__ import annotations

from lab.dissect.base import register
from lab.model import RAW_LIMIT, Piece, Sender

PREVIEW = 48


_SPACES = str.maketrans("", "", "\r\n\t")


def _printable(text: str) -> bool:
    """Printable but for CR, LF and tab (str.isprintable is one C call, hence the shape)."""
    return text.isprintable() or text.translate(_SPACES).isprintable()


def preview(data: bytes, limit: int = PREVIEW) -> str:
    """A one-line, quoted picture of ``data``: text when it is text, hex otherwise."""
    head = data[:limit]
    more = "…" if len(data) > limit else ""
    try:
        text: str | None = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The cut may split a character: text up to there is still text.
        cut_inside = len(data) > limit and exc.reason == "unexpected end of data"
        text = head[:exc.start].decode("utf-8") if cut_inside else None
    if text is not None and _printable(text):
        shown = text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        return f'"{shown.replace(chr(9), chr(92) + "t")}"{more}'
    return head.hex(" ") + more


def chunk_piece(sender: Sender, data: bytes, now: float) -> Piece:
    size = len(data)
    return Piece(
        sender=sender,
        time=now,
        summary=f"{preview(data)} ({size} byte{'s' if size != 1 else ''})",
        raw=data[:RAW_LIMIT] if size > RAW_LIMIT else data,
        size=size,
        fields=(("length", size),),
        truncated=size > RAW_LIMIT,
    )


class RawDissector:
    """One Piece per chunk; keeps no state, so nothing is left at close."""

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        return [chunk_piece(sender, data, now)] if data else []

    def close(self, now: float) -> list[Piece]:
        return []


for _name in ("raw", "tcp-echo", "udp-echo"):
    register(_name, RawDissector)
