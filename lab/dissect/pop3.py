"""The POP3 dissector: one Piece per command and per response, both directions.

Responses answer commands in the order sent (a FIFO: RFC 2449 allows
pipelining). A ``+OK`` to LIST or UIDL without an argument, RETR, TOP or CAPA
is followed by lines up to a lone dot: status line and lines are one Piece,
the lines dot-unstuffed; a ``-ERR`` is always one line. During AUTH a ``+ ``
line is a challenge and the client's next line a credential. After ``+OK`` to
STLS both directions are TLS, shown not parsed.

PASS, APOP's digest and AUTH credentials are masked in summaries and fields,
never in ``raw``. A command line over 255 octets (RFC 2449) or a status line over
512, or one that is not a command or status, is a malformed Piece; the next line
is read as usual. ``feed`` and ``close`` never raise.

Fields: commands ``command`` (the verb, upper case) and ``argument``. Responses
``status`` ("+OK", "-ERR" or "+" for a challenge), ``text``, then by command:
``entries`` and ``listing`` (LIST, UIDL), ``entries`` and ``capabilities`` (CAPA),
``header: <Name>``…, ``body length``, ``body`` (RETR, TOP); last ``command``, the
summary of the command answered (none for the greeting).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.dissect.base import register
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
    unstuff,
)
from lab.dissect.raw import preview
from lab.model import Piece, Sender

#: Longest command line, CRLF included (RFC 2449 section 4).
COMMAND_LIMIT = 255
#: Longest status line, CRLF included (RFC 2449 section 4).
STATUS_LIMIT = 512
#: The verb of a client line that answers a ``+`` challenge during AUTH.
AUTH_RESPONSE = "(auth response)"

C, S = Sender.CLIENT, Sender.SERVER

_STATUS = re.compile(rb"(\+OK|-ERR|\+)(?: (.*))?", re.S | re.I)

#: Commands whose +OK is followed by lines up to a lone dot: the kind of lines,
#: and whether that holds with an argument too (LIST 1 answers on one line).
MULTILINE: dict[str, tuple[str, bool]] = {
    "LIST": ("listing", False),
    "UIDL": ("listing", False),
    "RETR": ("message", True),
    "TOP": ("message", True),
    "CAPA": ("capabilities", True),
}


@dataclass(frozen=True, slots=True)
class _Asked:
    """A command waiting for its response."""

    verb: str
    summary: str
    multiline: str | None = None  # the kind of lines a +OK brings


@dataclass(slots=True)
class _Multi:
    """A multi-line response being read."""

    status: str
    text: str
    asked: _Asked
    kind: str
    kept: Bounded = field(default_factory=Bounded)
    mail: MailText = field(default_factory=MailText)
    lines: Lines = field(default_factory=Lines)

    def add(self, content: bytes, start: bool) -> None:
        if self.kind == "message":
            self.mail.add(content, start)
        else:
            self.lines.add(loose_text(content.rstrip(b"\r\n")))

    def describe(self) -> tuple[str, FieldList]:
        line = f"{self.status} {self.text}".rstrip()
        if self.kind == "message":
            summary, fields = self.mail.describe()
            return f"{line}; {summary}", fields
        joined = self.lines.joined(", " if self.kind == "capabilities" else "\n")
        return line, [("entries", self.lines.count), (self.kind, joined)]


class Pop3Dissector(LineDissector):
    """POP3 in both directions of one TCP connection. Feed bytes; take Pieces."""

    TLS_NOTE = "encrypted after STLS"

    def __init__(self) -> None:
        super().__init__()
        self._readers = {C: LineReader(), S: LineReader()}
        self._waiting: deque[_Asked] = deque([_Asked("", "")])  # the greeting answers nothing
        self._multi: _Multi | None = None
        self._challenged = False  # the next client line answers an AUTH challenge

    def _step(self, sender: Sender, data: bytes, pos: int, now: float, out: list[Piece]) -> int:
        line, pos = self._readers[sender].read(data, pos)
        if line is None:
            return pos
        if sender is C:
            out.append(self._command(line, now))
        elif self._multi is not None:
            out += self._multi_line(self._multi, line, now)
        else:
            out += self._status(line, now)
        return pos

    # -- client ----------------------------------------------------------------

    def _command(self, line: Line, now: float) -> Piece:
        problem = line_problem(line, COMMAND_LIMIT)
        if problem is None and self._challenged:
            return self._auth_response(line, now)
        decoded = text(line.body) if problem is None else None
        verb, _, argument = (decoded or "").partition(" ")
        if problem is None and not (verb.isascii() and verb.isalpha()):
            problem = "empty line" if decoded == "" else garbage(line)
        if problem is not None:
            if line.complete:  # the server will answer it with -ERR
                self._waiting.append(_Asked("", f"malformed command: {problem}"))
            return malformed_line(C, "command", line, problem, now)
        verb = verb.upper()
        argument = _MASKS.get(verb, _keep)(argument)
        summary = f"{verb} {argument}" if argument else verb
        kind, with_argument = MULTILINE.get(verb, (None, False))
        multiline = kind if (with_argument or not argument.strip()) else None
        self._waiting.append(_Asked(verb, summary, multiline))
        fields: FieldList = [("command", verb)]
        if argument:
            fields.append(("argument", argument))
        return _piece(C, line, now, summary, fields)

    def _auth_response(self, line: Line, now: float) -> Piece:
        self._challenged = False
        shown = "*" if line.body == b"*" else "****"
        summary = "* (cancel)" if shown == "*" else "**** (credentials)"
        self._waiting.append(_Asked(AUTH_RESPONSE, summary))
        return _piece(C, line, now, summary, [("command", AUTH_RESPONSE), ("argument", shown)])

    # -- server ----------------------------------------------------------------

    def _status(self, line: Line, now: float) -> list[Piece]:
        problem = line_problem(line, STATUS_LIMIT)
        match = None if problem else _STATUS.fullmatch(line.body)
        asked = self._waiting[0] if self._waiting else _Asked("", "")
        if match is not None and match[1] == b"+" and asked.verb not in ("AUTH", AUTH_RESPONSE):
            match = None  # a challenge outside AUTH
        if match is None:
            reason = problem or f"not +OK or -ERR: {preview(line.body)}"
            return [malformed_line(S, "response", line, reason, now)]
        if self._waiting:
            self._waiting.popleft()
        status, rest = match[1].decode().upper(), loose_text(match[2] or b"")
        self._challenged = status == "+"
        if status == "+OK" and asked.verb == "STLS":
            self._to_tls(C)
            self._to_tls(S)
        if status == "+OK" and asked.multiline is not None:
            self._multi = _Multi(status, rest, asked, asked.multiline)
            self._multi.kept.take(line.data)
            return []
        fields: FieldList = [("status", status), ("text", rest)]
        if asked.summary:
            fields.append(("command", asked.summary))
        return [_piece(S, line, now, loose_text(line.body).rstrip(), fields)]

    def _multi_line(self, multi: _Multi, line: Line, now: float) -> list[Piece]:
        multi.kept.take(line.data)
        content = unstuff(line)
        if content is not None:
            multi.add(content, line.start)
            return []
        self._multi = None
        summary, fields = multi.describe()
        return [multi.kept.piece(S, now, summary, _response_fields(multi, fields))]

    # -- close -----------------------------------------------------------------

    def _flush(self, sender: Sender, now: float) -> list[Piece]:
        rest = self._readers[sender].rest()
        multi, self._multi = (self._multi, None) if sender is S else (None, self._multi)
        if multi is not None:
            if rest is not None:
                multi.kept.take(rest.data)
                multi.add(unstuff(rest) or b"", rest.start)
            summary, fields = multi.describe()
            fields = _response_fields(multi, fields)
            return [multi.kept.piece(S, now, f"incomplete {summary}", fields, cut=True)]
        if rest is None:
            return []
        if sender is C:
            return [cut_command(rest, now, _shown, secret=self._challenged)]
        kept = Bounded()
        kept.take(rest.data)
        summary = f"incomplete response: {preview(rest.data)}"
        return [kept.piece(sender, now, summary, [("error", "cut off")], malformed=True,
                           cut=True)]


def _response_fields(multi: _Multi, fields: FieldList) -> FieldList:
    head: FieldList = [("status", multi.status), ("text", multi.text)]
    tail: FieldList = [("command", multi.asked.summary)] if multi.asked.summary else []
    return head + fields + tail


def _piece(sender: Sender, line: Line, now: float, summary: str, fields: FieldList) -> Piece:
    kept = Bounded()
    kept.take(line.data)
    return kept.piece(sender, now, summary, fields)


def _keep(argument: str) -> str:
    return argument


def _mask_all(argument: str) -> str:
    return "****" if argument else ""


def _mask_apop(argument: str) -> str:
    name, _, digest = argument.partition(" ")
    return f"{name} ****" if digest else name


def _shown(verb: str, argument: str) -> str:
    """A command line as sent, credentials masked."""
    argument = _MASKS.get(verb.upper(), _keep)(argument)
    return f"{verb} {argument}" if argument else verb


_MASKS: dict[str, Callable[[str], str]] = {
    "PASS": _mask_all,
    "APOP": _mask_apop,
    "AUTH": _mask_apop,  # AUTH PLAIN <initial response>: the mechanism stays, the rest goes
}

register("pop3", Pop3Dissector)
