"""What the line-based mail protocols (SMTP, POP3) share: lines, bounded bytes, mail text.

- :class:`LineReader` cuts one direction's stream into lines, however it arrives;
  a line longer than its buffer limit comes out in limit-sized segments, so
  memory stays bounded whatever the peer sends.
- :class:`Bounded` keeps a message's first RAW_LIMIT bytes and counts the rest.
- :class:`MailText` reads a dot-stuffed message (SMTP DATA, POP3 RETR/TOP): the
  head is kept (up to MAX_HEAD) for the stdlib ``email`` parser, the body is
  counted with a short preview.
- :class:`LineDissector` is the loop both dissectors run: never raise, and after
  a switch to TLS show each chunk as an encrypted Piece.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser

from lab.dissect.http_fields import BODY_PREVIEW, body_preview
from lab.dissect.raw import preview
from lab.model import RAW_LIMIT, FieldValue, Piece, Sender

#: The most a LineReader buffers: a longer line comes out in segments this long.
MAX_BUFFER = 64 * 1024
#: Head bytes of a mail message kept for the email parser.
MAX_HEAD = 64 * 1024
#: Characters of multi-line text (reply lines, listings) kept for fields.
MAX_TEXT = 16 * 1024

FieldList = list[tuple[str, FieldValue]]

_FOLD = re.compile(r"\r?\n[ \t]*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: Characters that break a line though they are not control characters (NEL, LS, PS).
_BREAKS = re.compile("[\x85\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Line:
    """Bytes of one line as they crossed, line end included when it came."""

    data: bytes
    start: bool  # False: the rest of a line that outgrew the buffer

    @property
    def complete(self) -> bool:
        return self.data.endswith(b"\n")

    @property
    def body(self) -> bytes:
        """The line without its CRLF (or bare LF)."""
        data = self.data[:-1] if self.complete else self.data
        return data[:-1] if data.endswith(b"\r") and self.complete else data


class LineReader:
    """One direction's bytes, cut into lines; at most ``limit`` bytes are buffered."""

    def __init__(self, limit: int = MAX_BUFFER) -> None:
        self._buf = bytearray()
        self._start = True
        self._limit = limit

    def read(self, data: bytes, pos: int) -> tuple[Line | None, int]:
        """Take bytes from ``data[pos:]`` up to one line's end.

        Returns the line (or a full buffer's segment), or None when ``data`` ran
        out first, and the position after what was taken.
        """
        room = self._limit - len(self._buf)
        end = data.find(b"\n", pos, pos + room)
        stop = end + 1 if end >= 0 else min(len(data), pos + room)
        self._buf += data[pos:stop]
        if end < 0 and len(self._buf) < self._limit:
            return None, stop
        return self._take(), stop

    def rest(self) -> Line | None:
        """The half line still buffered, if any (at close, or when the stream turns binary)."""
        return self._take() if self._buf else None

    @property
    def pending(self) -> int:
        return len(self._buf)

    def _take(self) -> Line:
        line = Line(bytes(self._buf), self._start)
        self._buf.clear()
        self._start = line.complete
        return line


@dataclass(slots=True)
class Bounded:
    """A message's bytes as they crossed: the first RAW_LIMIT kept, all counted."""

    raw: bytearray = field(default_factory=bytearray)
    size: int = 0

    def take(self, data: bytes) -> None:
        room = RAW_LIMIT - len(self.raw)
        if room > 0:
            self.raw += data[:room]
        self.size += len(data)

    def piece(
        self, sender: Sender, now: float, summary: str, fields: FieldList, *,
        malformed: bool = False, cut: bool = False,
    ) -> Piece:
        """These bytes as one Piece; ``cut`` marks a message the connection's end cut short."""
        return Piece(
            sender=sender, time=now, summary=summary, raw=bytes(self.raw), size=self.size,
            fields=tuple(fields), truncated=cut or self.size > len(self.raw),
            malformed=malformed,
        )


def text(data: bytes) -> str | None:
    """UTF-8 text without control characters (tab allowed), else None."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(decoded) else decoded


def loose_text(data: bytes) -> str:
    """Text for display whatever the bytes: bad UTF-8 replaced, control characters dropped."""
    return _CONTROL.sub("", data.decode("utf-8", "replace"))


def unstuff(line: Line) -> bytes | None:
    """A dot-stuffed line's content, or None for the lone dot that ends the message."""
    if not line.start or not line.data.startswith(b"."):
        return line.data
    return None if line.data in (b".\r\n", b".\n") else line.data[1:]


def quote(value: str, limit: int = 60) -> str:
    shown = value if len(value) <= limit else value[:limit] + "…"
    return f'"{shown}"'


def tls_piece(sender: Sender, data: bytes, now: float, note: str) -> Piece:
    """A chunk after the switch to TLS: shown, never parsed."""
    kept = Bounded()
    kept.take(data)
    return kept.piece(sender, now, f"{note} ({len(data):,} bytes)", [("tls", note),
                                                                      ("length", len(data))])


@dataclass(slots=True)
class MailText:
    """A mail message read line by line (already unstuffed): its head and a body preview."""

    head: bytearray = field(default_factory=bytearray)
    in_head: bool = True
    body: bytearray = field(default_factory=bytearray)
    body_length: int = 0
    length: int = 0

    def add(self, content: bytes, start: bool) -> None:
        self.length += len(content)
        if self.in_head:
            if start and content in (b"\r\n", b"\n"):
                self.in_head = False
            else:
                self.head += content[: MAX_HEAD - len(self.head)]
            return
        self.body += content[: BODY_PREVIEW - len(self.body)]
        self.body_length += len(content)

    def headers(self) -> list[tuple[str, str]]:
        """The head's header lines, unfolded and decoded, in order (repeats kept)."""
        head = bytes(self.head)
        try:
            modern = BytesHeaderParser(policy=policy.default).parsebytes(head)
            items = [(name, str(value)) for name, value in modern.items()]
        except Exception:  # the modern policy trips on some broken headers: show them raw
            legacy = BytesHeaderParser(policy=policy.compat32).parsebytes(head)
            items = [(name, str(value)) for name, value in legacy.items()]
        return [(loose_text(name.encode()), _FOLD.sub(" ", value)) for name, value in items]

    def describe(self) -> tuple[str, FieldList]:
        """``message: "Subject" (1,234 bytes)`` and the header and body fields.

        The size counts the message as delivered: dot-unstuffed, without the lone dot.
        """
        headers = self.headers()
        subject = next((v for k, v in headers if k.lower() == "subject"), None)
        shown = "(no subject)" if subject is None else quote(loose_text(subject.encode()))
        fields: FieldList = [(f"header: {name}", value) for name, value in headers]
        fields.append(("body length", self.body_length))
        if self.body_length:
            fields.append(("body", body_preview(bytes(self.body), self.body_length)))
        return f"message: {shown} ({self.length:,} bytes)", fields


@dataclass(slots=True)
class Lines:
    """Text lines kept for a field (bounded), and how many there were."""

    kept: list[str] = field(default_factory=list)
    count: int = 0
    chars: int = 0

    def add(self, line: str) -> None:
        self.count += 1
        if self.chars < MAX_TEXT:
            self.kept.append(line[: MAX_TEXT - self.chars])
            self.chars += len(line) + 1

    def joined(self, sep: str = "\n") -> str:
        more = "…" if len(self.kept) < self.count or self.chars > MAX_TEXT else ""
        return sep.join(self.kept) + more


class LineDissector:
    """The loop of a line protocol: ``feed`` hands each side's bytes to ``_step``.

    Subclasses implement ``_step`` (take some bytes from ``data[pos:]``, append
    finished Pieces, return the new position) and ``_flush`` (what a side holds
    at close). After ``_to_tls(sender)`` that side's chunks are encrypted Pieces.
    ``feed`` and ``close`` never raise.
    """

    TLS_NOTE = "encrypted after STARTTLS"

    def __init__(self) -> None:
        self._tls: set[Sender] = set()
        self._tls_seen: set[Sender] = set()  # sides that sent since their switch

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        """Take bytes that crossed from ``sender``; return the messages they complete."""
        pieces: list[Piece] = []
        pos = 0
        try:
            while pos < len(data):
                if sender in self._tls:
                    if sender not in self._tls_seen:  # first, what it sent before
                        self._tls_seen.add(sender)
                        pieces += self._flush(sender, now)
                    pieces.append(tls_piece(sender, data[pos:], now, self.TLS_NOTE))
                    break
                pos = self._step(sender, data, pos, now, pieces)
        except Exception as exc:  # the Wire must keep forwarding whatever happens
            pieces.append(_broken(sender, data[pos:], now, exc))
        return [_one_line(piece) for piece in pieces]

    def close(self, now: float) -> list[Piece]:
        """The connection ended: each side's half message, cut short."""
        pieces: list[Piece] = []
        for sender in Sender:  # a TLS side too: it may hold bytes from before the switch
            try:
                pieces += self._flush(sender, now)
            except Exception as exc:
                pieces.append(_broken(sender, b"", now, exc))
        return [_one_line(piece) for piece in pieces]

    def _to_tls(self, sender: Sender) -> None:
        self._tls.add(sender)

    def _step(self, sender: Sender, data: bytes, pos: int, now: float, out: list[Piece]) -> int:
        raise NotImplementedError

    def _flush(self, sender: Sender, now: float) -> list[Piece]:
        raise NotImplementedError


def _one_line(piece: Piece) -> Piece:
    """``piece`` with a summary on one line: a NEL, LS or PS in it is shown escaped."""
    if not _BREAKS.search(piece.summary):
        return piece
    summary = _BREAKS.sub(lambda m: f"\\u{ord(m[0]):04x}", piece.summary)
    return dataclasses.replace(piece, summary=summary)


def _broken(sender: Sender, data: bytes, now: float, exc: Exception) -> Piece:
    kept = Bounded()
    kept.take(data)
    reason = f"{type(exc).__name__}: {exc}"
    return kept.piece(sender, now, f"malformed: {reason}", [("error", reason)], malformed=True)


def malformed_line(sender: Sender, noun: str, line: Line, reason: str, now: float) -> Piece:
    """``malformed <noun>: <reason>`` for one line, with its exact bytes."""
    kept = Bounded()
    kept.take(line.data)
    return kept.piece(sender, now, f"malformed {noun}: {reason}", [("error", reason)],
                      malformed=True)


def line_problem(line: Line, limit: int) -> str | None:
    """Why ``line`` cannot be a command or reply line (too long, cut), or None."""
    size = len(line.data)
    if not line.start:
        return f"line too long (continued, {size:,} more bytes)"
    if not line.complete:
        return f"line too long ({size:,} bytes, no end of line yet)"
    if size > limit:
        return f"line too long ({size:,} bytes)"
    return None


def cut_command(line: Line, now: float, mask: Callable[[str, str], str], *,
                secret: bool = False) -> Piece:
    """A client line the connection's end cut short, shown as sent but for credentials.

    ``mask(verb, argument)`` is how a whole command of that verb would be shown
    (``PASS ****``); ``secret``: the line answers an AUTH challenge, all of it hidden.
    The close must not show what the whole line would have hidden.
    """
    kept = Bounded()
    kept.take(line.data)
    decoded = text(line.data.rstrip(b"\r")) if line.start else None
    verb, _, argument = (decoded or "").partition(" ")
    if secret:
        shown = b"****"
    else:
        shown = mask(verb, argument).encode() if verb.isascii() and verb.isalpha() else line.data
    return kept.piece(Sender.CLIENT, now, f"incomplete command: {preview(shown)}",
                      [("error", "cut off")], malformed=True, cut=True)


def garbage(line: Line) -> str:
    return f"not a command: {preview(line.body)}"
