"""What fuzzing found about summaries, kept as plain examples: a summary is one
line, even when the bytes hold a line break that is not CR or LF."""

from __future__ import annotations

import pytest

from lab import dissect
from tests.fuzz.talk import C, S, Script, feed

LS, NEL = "\u2028".encode(), "\x85".encode()


@pytest.mark.parametrize(("protocol", "script", "shown"), [
    ("smtp", [(S, b"220 hi" + LS + b"there\r\n")], "220 hi\\u2028there"),
    ("smtp", [(S, b"220 hi\r\n"), (C, b"MAIL FROM:<a" + NEL + b"b>\r\n")],
     "MAIL FROM:<a\\u0085b>"),
    ("smtp", [(S, b"220 hi\r\n"), (C, b"DATA\r\n"), (S, b"354 go\r\n"),
              (C, b"Subject: a" + LS + b"b\r\n\r\n.\r\n")], 'message: "a\\u2028b" (18 bytes)'),
    ("pop3", [(S, b"+OK hi" + LS + b"x\r\n")], "+OK hi\\u2028x"),
    ("ftp", [(S, b"220 hi\r\n"), (C, b"CWD a" + LS + b"\r\n")], "CWD a\\u2028"),
])
def test_a_unicode_line_break_is_shown_escaped(protocol: str, script: Script,
                                               shown: str) -> None:
    pieces = feed(dissect.make(protocol), script)
    assert pieces[-1].summary == shown
    assert pieces[-1].raw == script[-1][1]  # the bytes stay as they crossed
