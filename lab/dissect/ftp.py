"""The FTP control dissector: one Piece per command and per reply, both directions.

Client lines are commands (``USER student``, ``RETR report.pdf``, …), shown as
sent with the password masked (``PASS ****``). A multi-line reply (RFC 959 4.2:
``211-Features:`` up to a line starting ``211 ``) is one Piece. Replies answer
commands in the order sent (a FIFO, so pipelined commands pair right); a
preliminary ``1xx`` reply (``150``) names its command without using it up, so
the final ``226`` answers it too. The greeting answers nothing. After ``234``
to ``AUTH TLS`` (or SSL) both directions are TLS, shown not parsed.

A line over 4 KiB, a command that is not a word, or a reply without a 3-digit
code is a malformed Piece and the next line is read as usual. ``feed`` and
``close`` never raise. The data connections ("ftp-data") are in
:mod:`lab.dissect.ftp_data`, with the functions that read and write their
addresses.

Fields: commands ``command`` (the verb, upper case), ``argument`` (``****`` for
PASS and ACCT), ``address`` (host:port, PORT and EPRT), ``offset`` (REST).
Replies ``code`` (int), ``text`` (the lines joined by newlines), ``command``
(the summary of what it answers), ``address`` (227) or ``port`` (229).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.dissect.base import register
from lab.dissect.ftp_data import (
    FtpDataDissector,
    format_227,
    format_229,
    format_eprt,
    format_port,
    parse_data_address,
    summarise_transfer,
)
from lab.dissect.lines import (
    Bounded,
    FieldList,
    Line,
    LineDissector,
    LineReader,
    Lines,
    cut_command,
    garbage,
    line_problem,
    loose_text,
    malformed_line,
    text,
    tls_piece,
)
from lab.dissect.raw import preview
from lab.model import Piece, Sender, format_address

__all__ = [
    "FtpDataDissector", "FtpDissector", "format_227", "format_229", "format_eprt",
    "format_port", "parse_data_address", "summarise_transfer",
]

#: Longest command or reply line, CRLF included (RFC 959 sets none; 4 KiB is plenty).
LINE_LIMIT = 4096
#: AUTH mechanisms whose 234 reply turns the connection into TLS (RFC 4217).
TLS_MECHANISMS = frozenset({"TLS", "SSL", "TLS-C", "TLS-P"})

C, S = Sender.CLIENT, Sender.SERVER

_REPLY = re.compile(rb"(\d{3})(?:([ -])(.*))?", re.S)


@dataclass(frozen=True, slots=True)
class _Asked:
    """A command waiting for its final reply."""

    verb: str
    summary: str
    argument: str = ""


_NOTHING = _Asked("", "")


@dataclass(slots=True)
class _Reply:
    tag: bytes  # the code as sent: the last line starts with it and a space
    kept: Bounded = field(default_factory=Bounded)
    lines: Lines = field(default_factory=Lines)

    @property
    def code(self) -> int:
        return int(self.tag)


class FtpDissector(LineDissector):
    """FTP's control connection in both directions. Feed bytes; take Pieces."""

    TLS_NOTE = "encrypted after AUTH TLS"

    def __init__(self) -> None:
        super().__init__()
        self._readers = {C: LineReader(), S: LineReader()}
        self._waiting: deque[_Asked] = deque([_NOTHING])  # the greeting answers nothing
        self._reply: _Reply | None = None

    def _step(self, sender: Sender, data: bytes, pos: int, now: float, out: list[Piece]) -> int:
        line, pos = self._readers[sender].read(data, pos)
        if line is not None:
            out += [self._command(line, now)] if sender is C else self._reply_line(line, now)
        return pos

    # -- client ----------------------------------------------------------------

    def _command(self, line: Line, now: float) -> Piece:
        problem = line_problem(line, LINE_LIMIT)
        decoded = text(line.body) if problem is None else None
        verb, _, argument = (decoded or "").partition(" ")
        if problem is None and not (verb.isascii() and verb.isalpha()):
            problem = "empty line" if decoded == "" else garbage(line)
        if problem is not None:
            if line.complete:  # the server will answer it, most likely with a 500
                self._waiting.append(_Asked("", f"malformed command: {problem}"))
            return malformed_line(C, "command", line, problem, now)
        summary, details = _DETAILS.get(verb.upper(), _plain)(verb, argument)
        self._waiting.append(_Asked(verb.upper(), summary, argument))
        kept = Bounded()
        kept.take(line.data)
        return kept.piece(C, now, summary, [("command", verb.upper()), *details])

    # -- server ----------------------------------------------------------------

    def _reply_line(self, line: Line, now: float) -> list[Piece]:
        problem = line_problem(line, LINE_LIMIT)
        if problem is not None:
            return [self._malformed_reply(line, problem, now)]
        reply = self._reply
        if reply is not None:  # inside a multi-line reply any line goes, up to "NNN "
            reply.kept.take(line.data)
            body = line.body
            if body == reply.tag or body.startswith(reply.tag + b" "):
                self._reply = None
                reply.lines.add(loose_text(body[4:]))
                return self._final(reply, now)
            reply.lines.add(loose_text(body.removeprefix(reply.tag + b"-")))
            return []
        match = _REPLY.fullmatch(line.body)
        if match is None:
            reason = f"no 3-digit code: {preview(line.body)}"
            return [malformed_line(S, "reply", line, reason, now)]
        reply = _Reply(match[1])
        reply.kept.take(line.data)
        reply.lines.add(loose_text(match[3] or b""))
        if match[2] == b"-":
            self._reply = reply
            return []
        return self._final(reply, now)

    def _malformed_reply(self, line: Line, reason: str, now: float) -> Piece:
        if self._reply is None:
            return malformed_line(S, "reply", line, reason, now)
        kept, self._reply = self._reply.kept, None  # the lines so far go with it
        kept.take(line.data)
        return kept.piece(S, now, f"malformed reply: {reason}", [("error", reason)],
                          malformed=True)

    def _final(self, reply: _Reply, now: float) -> list[Piece]:
        """The Piece of a whole reply; a 1xx leaves its command waiting for the final one."""
        if 100 <= reply.code < 200:
            asked = self._waiting[0] if self._waiting else _NOTHING
        else:
            asked = self._waiting.popleft() if self._waiting else _NOTHING
        first = reply.lines.kept[0] if reply.lines.kept else ""
        fields: FieldList = [("code", reply.code), ("text", reply.lines.joined())]
        fields += [("command", asked.summary)] if asked.summary else []
        fields += _reply_address(reply)
        summary = f"{reply.tag.decode()} {first}".rstrip()
        pieces = [reply.kept.piece(S, now, summary, fields)]
        after = _AFTER.get(asked.verb)
        return pieces + (after(self, reply.code, asked, now) if after else [])

    def _after_auth(self, code: int, asked: _Asked, now: float) -> list[Piece]:
        if code != 234 or asked.argument.strip().upper() not in TLS_MECHANISMS:
            return []
        self._to_tls(S)
        self._to_tls(C)
        rest = self._readers[C].rest()  # sent before the 234 arrived: already TLS
        return [tls_piece(C, rest.data, now, self.TLS_NOTE)] if rest else []

    # -- close -----------------------------------------------------------------

    def _flush(self, sender: Sender, now: float) -> list[Piece]:
        rest = self._readers[sender].rest()
        if sender is S:
            return self._flush_reply(rest, now)
        return [] if rest is None else [cut_command(rest, now, _shown)]

    def _flush_reply(self, rest: Line | None, now: float) -> list[Piece]:
        reply, self._reply = self._reply, None
        if reply is None and rest is None:
            return []
        kept = reply.kept if reply is not None else Bounded()
        kept.take(rest.data if rest is not None else b"")
        if reply is not None:
            first = f"{reply.tag.decode()} {reply.lines.kept[0]}".rstrip()
        else:
            first = preview(bytes(kept.raw))
        return [kept.piece(S, now, f"incomplete reply: {first}", [("error", "cut off")],
                           malformed=True, cut=True)]


def _reply_address(reply: _Reply) -> FieldList:
    """``address`` of a 227, ``port`` of a 229 (its host is the control connection's)."""
    if reply.code not in (227, 229):
        return []
    found = parse_data_address(bytes(reply.kept.raw))
    if found is None:
        return []
    host, port = found
    return [("port", port)] if host is None else [("address", format_address(host, port))]


# -- commands, by verb --------------------------------------------------------------

#: The summary (the line as sent, secrets masked) and the fields after ``command``,
#: from the verb as sent and the rest of the line.
Details = Callable[[str, str], tuple[str, FieldList]]


def _plain(verb: str, argument: str) -> tuple[str, FieldList]:
    summary = f"{verb} {argument}" if argument else verb
    return summary, [("argument", argument)] if argument else []


def _secret(verb: str, argument: str) -> tuple[str, FieldList]:
    return (f"{verb} ****", [("argument", "****")]) if argument else (verb, [])


def _data_address(verb: str, argument: str) -> tuple[str, FieldList]:
    summary, fields = _plain(verb, argument)
    found = parse_data_address(f"{verb} {argument}")
    if found is None or found[0] is None:
        return summary, fields
    return summary, fields + [("address", format_address(found[0], found[1]))]


def _rest(verb: str, argument: str) -> tuple[str, FieldList]:
    summary, fields = _plain(verb, argument)
    offset = argument.strip()
    return summary, fields + ([("offset", int(offset))] if offset.isdecimal() else [])


def _shown(verb: str, argument: str) -> str:
    """A command's summary: the line as sent, secrets masked."""
    return _DETAILS.get(verb.upper(), _plain)(verb, argument)[0]


_DETAILS: dict[str, Details] = {
    "PASS": _secret,
    "ACCT": _secret,
    "PORT": _data_address,
    "EPRT": _data_address,
    "REST": _rest,
}

#: What a final reply to a command changes, by the command's verb.
_AFTER: dict[str, Callable[[FtpDissector, int, _Asked, float], list[Piece]]] = {
    "AUTH": FtpDissector._after_auth,
}


register("ftp", FtpDissector)
