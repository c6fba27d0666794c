"""POP3 and FTP control conversations built from their grammar (RFC 1939/2449, RFC
959/2428): commands, single- and multi-line answers (dot-stuffed for POP3, ``NNN-``
up to ``NNN `` for FTP, preliminary 1xx before the final reply), pipelined or not.
One clean Piece per command and per answer, the same under any chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lab import dissect
from tests.fuzz.talk import (
    FUZZ,
    C,
    S,
    Script,
    check_every_byte_shown,
    chunked,
    feed,
    views,
)

# Text strategies, not regexes: Hypothesis's memory of tried examples grows with draws.
_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_WORD = st.text("ABCXYZabcxyz0123456789._-", min_size=1, max_size=12)
_TEXT = st.text(_PRINTABLE, max_size=40).map(str.strip)
#: A line of a multi-line body: may start with a dot, may look like a status or a code.
_BODY_LINE = st.one_of(
    st.text(_PRINTABLE, max_size=40).map(str.encode), st.sampled_from(
        [b".", b"..", b".hidden", b"", b"+OK not the end", b"226 not the end", b"-ERR x"]))

# One turn: (client line, server lines, pieces the server lines make).
Turn = tuple[bytes, bytes, int]


def _talk(draw: st.DrawFn, greeting: bytes, turns: list[Turn]) -> tuple[Script, int, int]:
    """The script (pipelined or not), and how many client and server Pieces it must give."""
    script: Script = [(S, greeting)]
    if draw(st.booleans()):
        script += [(C, b"".join(t[0] for t in turns)), (S, b"".join(t[1] for t in turns))]
    else:
        script += [step for t in turns for step in ((C, t[0]), (S, t[1]))]
    return script, len(turns), 1 + sum(t[2] for t in turns)


def _dotted(lines: list[bytes]) -> bytes:
    return b"".join((b"." if x.startswith(b".") else b"") + x + b"\r\n" for x in lines) + b".\r\n"


@st.composite
def pop3_turn(draw: st.DrawFn) -> Turn:
    verb = draw(st.sampled_from(["USER", "PASS", "STAT", "LIST", "UIDL", "RETR", "TOP",
                                 "CAPA", "NOOP", "RSET", "DELE", "LIST 1", "UIDL 2"]))
    arg = {"USER": " ann", "PASS": " secret", "RETR": " 1", "TOP": " 1 0", "DELE": " 3"}
    line = f"{verb}{arg.get(verb, '')}\r\n".encode()
    status = b"+OK " + draw(_TEXT).encode()
    if draw(st.integers(0, 3)) == 0:
        return line, b"-ERR " + draw(_TEXT).encode() + b"\r\n", 1
    if verb in ("LIST", "UIDL", "CAPA"):
        items = draw(st.lists(_WORD, max_size=5))
        return line, status + b"\r\n" + _dotted([w.encode() for w in items]), 1
    if verb in ("RETR", "TOP"):
        head = [b"Subject: " + draw(_TEXT).encode(), b"From: ann@lab.test", b""]
        return line, status + b"\r\n" + _dotted(head + draw(st.lists(_BODY_LINE, max_size=6))), 1
    return line, status + b"\r\n", 1


@st.composite
def pop3_conversation(draw: st.DrawFn) -> tuple[Script, int, int]:
    turns = draw(st.lists(pop3_turn(), min_size=1, max_size=6))
    return _talk(draw, b"+OK POP3 ready <1.2@lab.test>\r\n", [*turns, (b"QUIT\r\n", b"+OK\r\n", 1)])


@st.composite
def ftp_reply(draw: st.DrawFn, code: int) -> bytes:
    """A reply with ``code``, one line or several (middle lines in any RFC 959 form)."""
    text = draw(_TEXT).encode()
    if draw(st.integers(0, 2)):
        return b"%d %s\r\n" % (code, text)
    middle = draw(st.lists(st.one_of(_TEXT.map(lambda t: b" " + t.encode()),
                                     _TEXT.map(lambda t: b"%d-%s" % (code, t.encode()))),
                           max_size=4))
    return b"".join([b"%d-%s\r\n" % (code, text), *(m + b"\r\n" for m in middle),
                     b"%d End\r\n" % code])


@st.composite
def ftp_turn(draw: st.DrawFn) -> Turn:
    command = draw(st.sampled_from([
        "USER student", "PASS lab", "PWD", "CWD docs", "TYPE I", "SYST", "FEAT", "NOOP",
        "PASV", "EPSV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|", "REST 100",
        "LIST", "RETR a.txt", "STOR b.bin", "SIZE a.txt", "DELE b.bin"]))
    line = f"{command}\r\n".encode()
    verb = command.split()[0]
    if verb == "PASV":
        return line, b"227 Entering Passive Mode (127,0,0,1,%d,%d).\r\n" % (
            draw(st.integers(1, 255)), draw(st.integers(0, 255))), 1
    if verb == "EPSV":
        return line, b"229 Entering Extended Passive Mode (|||%d|)\r\n" % draw(
            st.integers(1, 65535)), 1
    if verb in ("LIST", "RETR", "STOR") and draw(st.booleans()):
        return line, draw(ftp_reply(150)) + draw(ftp_reply(226)), 2
    code = draw(st.sampled_from([200, 211, 213, 215, 230, 250, 257, 331, 350, 500, 550]))
    return line, draw(ftp_reply(code)), 1


@st.composite
def ftp_conversation(draw: st.DrawFn) -> tuple[Script, int, int]:
    turns = draw(st.lists(ftp_turn(), min_size=1, max_size=6))
    greeting = draw(ftp_reply(220))
    return _talk(draw, greeting, [*turns, (b"QUIT\r\n", b"221 Bye\r\n", 1)])


def _check(protocol: str, talk: tuple[Script, int, int], data: st.DataObject) -> None:
    script, commands, answers = talk
    whole = feed(dissect.make(protocol), script)
    assert not any(p.malformed or p.truncated for p in whole), [p.summary for p in whole]
    check_every_byte_shown(whole, script)
    assert sum(p.sender is C for p in whole) == commands
    assert sum(p.sender is S for p in whole) == answers, [p.summary for p in whole]
    assert not any("secret" in p.summary or "PASS lab" in p.summary for p in whole)
    chunks = chunked(data, script)
    assert views(feed(dissect.make(protocol), chunks)) == views(whole)


@FUZZ
@given(talk=pop3_conversation(), data=st.data())
def test_pop3_conversations_any_chunking(talk: tuple[Script, int, int],
                                         data: st.DataObject) -> None:
    _check("pop3", talk, data)


@FUZZ
@given(talk=ftp_conversation(), data=st.data())
def test_ftp_conversations_any_chunking(talk: tuple[Script, int, int],
                                        data: st.DataObject) -> None:
    _check("ftp", talk, data)
