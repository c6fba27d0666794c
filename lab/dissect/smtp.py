"""The SMTP dissector: one Piece per command, per reply, per message, both directions.

Client lines are commands (``EHLO``, ``MAIL FROM:<…>``, …); a multi-line reply
(``250-…`` lines up to ``250 …``) is one Piece. Replies answer commands in the
order sent (a FIFO, so pipelining per RFC 2920 pairs right), and some answers
change what the bytes mean next:

- ``DATA``: the client's lines up to the lone dot are one message Piece (the
  mode starts with the command and is dropped again if the reply is not 354
  and no content came); ``BDAT n``: the next n bytes are one content Piece;
- ``334`` to ``AUTH``: the client's next line is a credential, masked;
- ``220`` to ``STARTTLS``: both directions are TLS from here on, shown not parsed.

Credentials are masked in summaries and fields, never in ``raw``. A line over
1000 octets (RFC 5321 4.5.3.1.6) or one that is not a command is a malformed
Piece and the next line is read as usual. ``feed`` and ``close`` never raise.

Fields: commands ``command`` (the verb, upper case), ``argument``, then ``from``
/ ``to`` and ``parameters`` (MAIL, RCPT), ``domain`` (EHLO, HELO), ``mechanism``
(AUTH), ``size`` and ``last`` (BDAT). Replies ``code``, ``text`` (lines joined
by newlines), ``enhanced``, ``extensions`` (to EHLO), ``command`` (the summary
of what it answers). Messages ``content`` = "message", ``header: <Name>``…,
``body length``, ``body``; BDAT chunks ``content`` = "BDAT chunk", ``length``,
``last``, ``body``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from lab.dissect.base import register
from lab.dissect.http_fields import BODY_PREVIEW, body_preview
from lab.dissect.lines import (
    Bounded,
    FieldList,
    Line,
    LineDissector,
    LineReader,
    Lines,
    MailText,
    cut_command,
    garbage,
    line_problem,
    loose_text,
    malformed_line,
    text,
    tls_piece,
    unstuff,
)
from lab.dissect.raw import preview
from lab.model import Piece, Sender

#: Longest command or reply line, CRLF included (RFC 5321 4.5.3.1.6: a text line).
LINE_LIMIT = 1000
#: The verb of a client line that answers a 334 challenge during AUTH.
AUTH_RESPONSE = "(auth response)"

C, S = Sender.CLIENT, Sender.SERVER

_REPLY = re.compile(rb"(\d{3})(?:([ -])(.*))?", re.S)
_ENHANCED = re.compile(r"([245]\.\d{1,3}\.\d{1,3})(?:\s|$)")
_ADDRESS = re.compile(r"(?i)(?:FROM|TO):\s*(<[^>]*>|\S*)\s*(.*)")


class _Mode(Enum):
    COMMAND = "command"
    DATA = "data"
    BDAT = "bdat"


@dataclass(frozen=True, slots=True)
class _Asked:
    """A command waiting for its final reply."""

    verb: str
    summary: str


@dataclass(slots=True)
class _Reply:
    code: int
    kept: Bounded = field(default_factory=Bounded)
    lines: Lines = field(default_factory=Lines)


@dataclass(slots=True)
class _Message:
    kept: Bounded = field(default_factory=Bounded)
    mail: MailText = field(default_factory=MailText)


@dataclass(slots=True)
class _Chunk:
    size: int
    last: bool
    left: int
    kept: Bounded = field(default_factory=Bounded)
    head: bytearray = field(default_factory=bytearray)


class SmtpDissector(LineDissector):
    """SMTP in both directions of one TCP connection. Feed bytes; take Pieces."""

    def __init__(self) -> None:
        super().__init__()
        self._readers = {C: LineReader(), S: LineReader()}
        self._mode = _Mode.COMMAND
        self._waiting: deque[_Asked] = deque([_Asked("", "")])  # the greeting answers nothing
        self._reply: _Reply | None = None
        self._message: _Message | None = None
        self._chunk: _Chunk | None = None
        self._challenge: str | None = None  # what the next client line answers in AUTH

    def _step(self, sender: Sender, data: bytes, pos: int, now: float, out: list[Piece]) -> int:
        if sender is C:
            return _CLIENT_STEP[self._mode](self, data, pos, now, out)
        line, pos = self._readers[S].read(data, pos)
        if line is not None:
            out += self._reply_line(line, now)
        return pos

    # -- client ----------------------------------------------------------------

    def _command_step(self, data: bytes, pos: int, now: float, out: list[Piece]) -> int:
        line, pos = self._readers[C].read(data, pos)
        if line is not None:
            out.append(self._command(line, now))
        return pos

    def _command(self, line: Line, now: float) -> Piece:
        problem = line_problem(line, LINE_LIMIT)
        if problem is None and self._challenge is not None:
            return self._auth_response(line, now)
        decoded = text(line.body) if problem is None else None
        verb, _, argument = (decoded or "").partition(" ")
        if problem is None and not (verb.isascii() and verb.isalpha()):
            problem = "empty line" if decoded == "" else garbage(line)
        if problem is not None:
            if line.complete:  # the server will answer it, most likely with a 500
                self._waiting.append(_Asked("", f"malformed command: {problem}"))
            return malformed_line(C, "command", line, problem, now)
        summary, details = _DETAILS.get(verb.upper(), _plain)(verb, argument)
        verb = verb.upper()
        self._waiting.append(_Asked(verb, summary))
        self._enter(verb, details)
        kept = Bounded()
        kept.take(line.data)
        return kept.piece(C, now, summary, [("command", verb), *details])

    def _enter(self, verb: str, details: FieldList) -> None:
        """What the command's own bytes say comes next on the client side."""
        if verb == "DATA":
            self._mode, self._message = _Mode.DATA, _Message()
        size, last = dict(details).get("size"), dict(details).get("last")
        if verb == "BDAT" and isinstance(size, int) and size > 0:
            self._mode, self._chunk = _Mode.BDAT, _Chunk(size, last is True, size)

    def _auth_response(self, line: Line, now: float) -> Piece:
        label, self._challenge = self._challenge or "credentials", None
        cancel = line.body == b"*"
        summary = "* (cancel)" if cancel else f"**** ({label})"
        self._waiting.append(_Asked(AUTH_RESPONSE, summary))
        kept = Bounded()
        kept.take(line.data)
        fields: FieldList = [("command", AUTH_RESPONSE), ("argument", "*" if cancel else "****")]
        return kept.piece(C, now, summary, [*fields, ("credential", label)])

    def _data_step(self, data: bytes, pos: int, now: float, out: list[Piece]) -> int:
        line, pos = self._readers[C].read(data, pos)
        message = self._message
        if line is None or message is None:
            return pos
        message.kept.take(line.data)
        content = unstuff(line)
        if content is not None:
            message.mail.add(content, line.start)
            return pos
        summary, fields = message.mail.describe()
        out.append(message.kept.piece(C, now, summary, [("content", "message"), *fields]))
        self._waiting.append(_Asked("", summary))
        self._mode, self._message = _Mode.COMMAND, None
        return pos

    def _chunk_step(self, data: bytes, pos: int, now: float, out: list[Piece]) -> int:
        chunk = self._chunk
        if chunk is None:
            self._mode = _Mode.COMMAND
            return pos
        part = data[pos : pos + chunk.left]
        chunk.kept.take(part)
        chunk.head += part[: BODY_PREVIEW - len(chunk.head)]
        chunk.left -= len(part)
        if chunk.left == 0:
            out.append(_chunk_piece(chunk, now))
            self._mode, self._chunk = _Mode.COMMAND, None
        return pos + len(part)

    # -- server ----------------------------------------------------------------

    def _reply_line(self, line: Line, now: float) -> list[Piece]:
        problem = line_problem(line, LINE_LIMIT)
        match = None if problem else _REPLY.fullmatch(line.body)
        if match is None:
            reason = problem or f"no 3-digit code: {preview(line.body)}"
            return [self._malformed_reply(line, reason, now)]
        reply = self._reply or _Reply(int(match[1]))
        reply.kept.take(line.data)
        reply.lines.add(loose_text(match[3] or b""))
        if match[2] == b"-":
            self._reply = reply
            return []
        self._reply = None
        return self._final(reply, now)

    def _malformed_reply(self, line: Line, reason: str, now: float) -> Piece:
        if self._reply is None:
            return malformed_line(S, "reply", line, reason, now)
        kept, self._reply = self._reply.kept, None  # the lines so far go with it
        kept.take(line.data)
        return kept.piece(S, now, f"malformed reply: {reason}", [("error", reason)],
                          malformed=True)

    def _final(self, reply: _Reply, now: float) -> list[Piece]:
        asked = self._waiting.popleft() if self._waiting else _Asked("", "")
        lines = reply.lines.kept
        first = lines[0] if lines else ""
        fields: FieldList = [("code", reply.code), ("text", reply.lines.joined())]
        enhanced = _ENHANCED.match(first)
        fields += [("enhanced", enhanced[1])] if enhanced else []
        fields += [("extensions", ", ".join(lines[1:]))] if asked.verb == "EHLO" else []
        fields += [("command", asked.summary)] if asked.summary else []
        pieces = [reply.kept.piece(S, now, f"{reply.code} {first}".rstrip(), fields)]
        self._challenge = None
        after = _AFTER.get(asked.verb)
        return pieces + (after(self, reply.code, first, now) if after else [])

    def _after_starttls(self, code: int, first: str, now: float) -> list[Piece]:
        if code != 220:
            return []
        self._to_tls(S)
        self._to_tls(C)
        rest = self._readers[C].rest()  # sent before the 220 arrived: already TLS
        return [tls_piece(C, rest.data, now, self.TLS_NOTE)] if rest else []

    def _after_data(self, code: int, first: str, now: float) -> list[Piece]:
        message = self._message
        if code != 354 and message is not None and message.kept.size == 0:
            self._mode, self._message = _Mode.COMMAND, None
        return []

    def _after_auth(self, code: int, first: str, now: float) -> list[Piece]:
        if code == 334:
            self._challenge = _challenge_label(first)
        return []

    # -- close -----------------------------------------------------------------

    def _flush(self, sender: Sender, now: float) -> list[Piece]:
        rest = self._readers[sender].rest()
        if sender is S:
            return self._flush_reply(rest, now)
        if self._mode is _Mode.DATA and self._message is not None:
            return self._flush_message(self._message, rest, now)
        if self._mode is _Mode.BDAT and self._chunk is not None:
            chunk = self._chunk
            done = chunk.size - chunk.left
            summary = f"incomplete BDAT content ({done:,} of {chunk.size:,} bytes)"
            fields: FieldList = [("content", "BDAT chunk"), ("length", done)]
            return [chunk.kept.piece(C, now, summary, fields, cut=True)]
        if rest is None:
            return []
        return [cut_command(rest, now, _shown, secret=self._challenge is not None)]

    def _flush_message(self, message: _Message, rest: Line | None, now: float) -> list[Piece]:
        if rest is not None:
            message.kept.take(rest.data)
            message.mail.add(unstuff(rest) or b"", rest.start)
        if message.kept.size == 0:
            return []
        summary, fields = message.mail.describe()
        fields = [("content", "message"), *fields]
        return [message.kept.piece(C, now, f"incomplete {summary}", fields, cut=True)]

    def _flush_reply(self, rest: Line | None, now: float) -> list[Piece]:
        reply, self._reply = self._reply, None
        if reply is None and rest is None:
            return []
        kept = reply.kept if reply is not None else Bounded()
        kept.take(rest.data if rest is not None else b"")
        if reply is not None:
            first = f"{reply.code} {reply.lines.kept[0]}".rstrip()
        else:
            first = preview(bytes(kept.raw))
        return [kept.piece(S, now, f"incomplete reply: {first}", [("error", "cut off")],
                           malformed=True, cut=True)]


# -- commands, by verb --------------------------------------------------------------

#: The summary (the line as sent, credentials masked) and fields after ``command``,
#: from the verb as sent and the rest of the line.
Details = Callable[[str, str], tuple[str, FieldList]]


def _plain(verb: str, argument: str) -> tuple[str, FieldList]:
    summary = f"{verb} {argument}" if argument else verb
    return summary, [("argument", argument)] if argument else []


def _address(name: str) -> Details:
    def details(verb: str, argument: str) -> tuple[str, FieldList]:
        summary, fields = _plain(verb, argument)
        match = _ADDRESS.fullmatch(argument)
        if match is None:
            return summary, fields
        fields += [(name, match[1].removeprefix("<").removesuffix(">"))]
        return summary, fields + ([("parameters", match[2])] if match[2] else [])

    return details


def _hello(verb: str, argument: str) -> tuple[str, FieldList]:
    summary, fields = _plain(verb, argument)
    return summary, fields + [("domain", argument.strip())]


def _auth(verb: str, argument: str) -> tuple[str, FieldList]:
    mechanism, _, initial = argument.strip().partition(" ")
    shown = f"{mechanism} ****" if initial else mechanism
    return f"{verb} {shown}".rstrip(), [("argument", shown), ("mechanism", mechanism.upper())]


def _bdat(verb: str, argument: str) -> tuple[str, FieldList]:
    summary, fields = _plain(verb, argument)
    size, *rest = argument.split() or [""]
    if not size.isdigit() or [word.upper() for word in rest] not in ([], ["LAST"]):
        return summary, fields
    return summary, fields + [("size", int(size)), ("last", bool(rest))]


def _shown(verb: str, argument: str) -> str:
    """A command's summary: the line as sent, credentials masked."""
    return _DETAILS.get(verb.upper(), _plain)(verb, argument)[0]


_DETAILS: dict[str, Details] = {
    "MAIL": _address("from"),
    "RCPT": _address("to"),
    "EHLO": _hello,
    "HELO": _hello,
    "AUTH": _auth,
    "BDAT": _bdat,
}

_CLIENT_STEP: dict[_Mode, Callable[[SmtpDissector, bytes, int, float, list[Piece]], int]] = {
    _Mode.COMMAND: SmtpDissector._command_step,
    _Mode.DATA: SmtpDissector._data_step,
    _Mode.BDAT: SmtpDissector._chunk_step,
}

#: What a final reply to a command changes, by the command's verb.
_AFTER: dict[str, Callable[[SmtpDissector, int, str, float], list[Piece]]] = {
    "STARTTLS": SmtpDissector._after_starttls,
    "DATA": SmtpDissector._after_data,
    "AUTH": SmtpDissector._after_auth,
    AUTH_RESPONSE: SmtpDissector._after_auth,
}


def _challenge_label(challenge: str) -> str:
    """What a 334 asks for: "username", "password" (AUTH LOGIN) or "credentials"."""
    try:
        asked = base64.b64decode(challenge, validate=True).decode("ascii").lower()
    except (binascii.Error, ValueError):
        return "credentials"
    return "username" if asked.startswith("user") else (
        "password" if asked.startswith("pass") else "credentials"
    )


def _chunk_piece(chunk: _Chunk, now: float) -> Piece:
    fields: FieldList = [("content", "BDAT chunk"), ("length", chunk.size), ("last", chunk.last)]
    fields.append(("body", body_preview(bytes(chunk.head), chunk.size)))
    summary = f"BDAT content ({chunk.size:,} bytes{', last' if chunk.last else ''})"
    return chunk.kept.piece(C, now, summary, fields)


register("smtp", SmtpDissector)
