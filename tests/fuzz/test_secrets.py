"""Summaries and fields never show a credential (PASS, ACCT, APOP's digest, AUTH's
initial response and the lines answering its challenges), however the line is
chunked and wherever the connection's end cuts it. ``raw`` keeps the bytes, by
design; the user reads summaries and fields.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from lab import dissect
from tests.fuzz.talk import FUZZ, C, S, Script, chunked, feed

#: A credential: the marker makes any 4 of its characters unlikely anywhere else.
_SECRET = st.text("ABCXYZabcxyz0189+/=", min_size=4, max_size=20).map(lambda t: "Zq9" + t)

#: (protocol, what comes before, the line with the secret as {}).
_SETTINGS: list[tuple[str, Script, str]] = [
    ("ftp", [(S, b"220 hi\r\n"), (C, b"USER ann\r\n"), (S, b"331 pw?\r\n")], "PASS {}"),
    ("ftp", [(S, b"220 hi\r\n"), (C, b"USER ann\r\n"), (S, b"331 pw?\r\n")], "pass {}"),
    ("ftp", [(S, b"220 hi\r\n")], "ACCT {}"),
    ("pop3", [(S, b"+OK hi\r\n"), (C, b"USER ann\r\n"), (S, b"+OK\r\n")], "PASS {}"),
    ("pop3", [(S, b"+OK hi <1@x>\r\n")], "APOP ann {}"),
    ("pop3", [(S, b"+OK hi\r\n")], "AUTH PLAIN {}"),
    ("pop3", [(S, b"+OK hi\r\n"), (C, b"AUTH PLAIN\r\n"), (S, b"+ \r\n")], "{}"),
    ("smtp", [(S, b"220 hi\r\n"), (C, b"EHLO me\r\n"), (S, b"250 hi\r\n")], "AUTH PLAIN {}"),
    ("smtp", [(S, b"220 hi\r\n")], "auth login {}"),
    ("smtp", [(S, b"220 hi\r\n"), (C, b"AUTH LOGIN\r\n"), (S, b"334 VXNlcm5hbWU6\r\n")], "{}"),
    ("smtp", [(S, b"220 hi\r\n"), (C, b"AUTH LOGIN\r\n"), (S, b"334 VXNlcm5hbWU6\r\n"),
              (C, b"YW5u\r\n"), (S, b"334 UGFzc3dvcmQ6\r\n")], "{}"),
]


@FUZZ
@example(setting=0, secret="Zq9secret", cut=None, ending=b"", data=None)  # cut by the close
@example(setting=9, secret="Zq9secret", cut=None, ending=b"", data=None)
@given(setting=st.integers(0, len(_SETTINGS) - 1), secret=_SECRET,
       cut=st.none() | st.integers(0, 40), ending=st.sampled_from([b"", b"\r", b"\r\n"]),
       data=st.data())
def test_no_summary_or_field_shows_a_credential(setting: int, secret: str, cut: int | None,
                                                ending: bytes, data: st.DataObject | None) -> None:
    protocol, before, line = _SETTINGS[setting]
    sent = line.format(secret).encode() + ending
    sent = sent if cut is None else sent[:len(sent) - cut]
    script = [*before, (C, sent)]
    if data is not None:
        script = chunked(data, script)
    shown = secret[:max(0, len(sent) - line.index("{}"))]
    pieces = feed(dissect.make(protocol), script)
    if len(shown) < 4:
        return
    for piece in pieces:
        assert shown not in piece.summary, piece.summary
        assert not any(shown in str(value) for _, value in piece.fields), piece.fields
