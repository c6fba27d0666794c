"""The SMTP dissector on bytes alone: commands, whole replies, whole messages, any chunking."""

from __future__ import annotations

import base64
import tracemalloc
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.lines import MAX_BUFFER
from lab.dissect.smtp import SmtpDissector
from lab.model import RAW_LIMIT, Piece, Sender
from tests.lab.dissect_helpers import Script, feed_script, fields, greeted, sent, summaries

C, S = Sender.CLIENT, Sender.SERVER


GREETING = b"220 lab.test ESMTP Lab ready\r\n"
EHLO = b"EHLO client.lab.test\r\n"
EHLO_REPLY = (
    b"250-lab.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-PIPELINING\r\n250-CHUNKING\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n"
)
MESSAGE = (
    b"From: ann@lab.test\r\nTo: bob@lab.test\r\nSubject: Lunch on Friday\r\n"
    b"Message-ID: <1@lab.test>\r\n\r\nHi Bob,\r\n..see you at noon.\r\n..\r\nAnn\r\n.\r\n"
)
SEND = [
    (S, GREETING),
    (C, EHLO),
    (S, EHLO_REPLY),
    (C, b"MAIL FROM:<ann@lab.test> SIZE=120\r\n"),
    (S, b"250 OK\r\n"),
    (C, b"RCPT TO:<bob@lab.test>\r\n"),
    (S, b"250 OK\r\n"),
    (C, b"DATA\r\n"),
    (S, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    (C, MESSAGE),
    (S, b"250 Message accepted for delivery\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"221 Bye\r\n"),
]


def run(script: Script, *, d: SmtpDissector | None = None, close: bool = False,
        greet: bool = True) -> list[Piece]:
    """Feed ``script`` to ``d`` (or a fresh dissector that saw the greeting, if ``greet``)."""
    if d is None:
        d = SmtpDissector()
        if greet:
            greeted(d, GREETING)
    return feed_script(d, script, close=close)


# -- a whole conversation ---------------------------------------------------------


def test_make_gives_the_smtp_dissector() -> None:
    assert isinstance(dissect.make("smtp"), SmtpDissector)


def test_a_mail_is_sent_and_every_message_is_one_piece() -> None:
    pieces = run(SEND, close=True, greet=False)
    assert summaries(pieces) == [
        "220 lab.test ESMTP Lab ready",
        "EHLO client.lab.test",
        "250 lab.test",
        "MAIL FROM:<ann@lab.test> SIZE=120",
        "250 OK",
        "RCPT TO:<bob@lab.test>",
        "250 OK",
        "DATA",
        "354 End data with <CR><LF>.<CR><LF>",
        'message: "Lunch on Friday" (128 bytes)',
        "250 Message accepted for delivery",
        "QUIT",
        "221 Bye",
    ]
    assert [p.raw for p in pieces] == [data for _, data in SEND]
    assert [p.sender for p in pieces] == [who for who, _ in SEND]
    assert [p.time for p in pieces] == [float(i) for i in range(len(SEND))]
    assert not any(p.malformed or p.truncated for p in pieces)


def test_the_ehlo_reply_is_one_piece_listing_the_extensions() -> None:
    reply = run(SEND[:3], greet=False)[2]
    assert reply.raw == EHLO_REPLY and reply.size == len(EHLO_REPLY)
    assert reply.fields == (
        ("code", 250),
        (
            "text",
            "lab.test\nSIZE 33554432\n8BITMIME\nSMTPUTF8\nPIPELINING\nCHUNKING\n"
            "AUTH LOGIN PLAIN\nHELP",
        ),
        ("extensions", "SIZE 33554432, 8BITMIME, SMTPUTF8, PIPELINING, CHUNKING, "
                       "AUTH LOGIN PLAIN, HELP"),
        ("command", "EHLO client.lab.test"),
    )


def test_command_fields() -> None:
    pieces = run(SEND, greet=False)
    ehlo, mail, rcpt, data, quit_ = (pieces[i] for i in (1, 3, 5, 7, 11))
    assert ehlo.fields == (
        ("command", "EHLO"), ("argument", "client.lab.test"), ("domain", "client.lab.test"),
    )
    assert mail.fields == (
        ("command", "MAIL"),
        ("argument", "FROM:<ann@lab.test> SIZE=120"),
        ("from", "ann@lab.test"),
        ("parameters", "SIZE=120"),
    )
    assert rcpt.fields == (("command", "RCPT"), ("argument", "TO:<bob@lab.test>"),
                           ("to", "bob@lab.test"))
    assert data.fields == (("command", "DATA"),)
    assert quit_.fields == (("command", "QUIT"),)


def test_replies_name_the_command_they_answer_and_the_enhanced_code() -> None:
    script = [
        (S, GREETING),
        (C, b"mail from:<>\r\n"),
        (S, b"250 2.1.0 Sender OK\r\n"),
        (C, b"RCPT TO:<eve@elsewhere.test>\r\n"),
        (S, b"550 5.7.1 Relaying denied: lab.test only\r\n"),
    ]
    greeting, mail, ok, _, denied = run(script, greet=False)
    assert "command" not in fields(greeting)
    assert mail.summary == "mail from:<>"
    assert fields(mail)["command"] == "MAIL" and fields(mail)["from"] == ""
    assert fields(ok) == {"code": 250, "text": "2.1.0 Sender OK", "enhanced": "2.1.0",
                          "command": "mail from:<>"}
    assert denied.summary == "550 5.7.1 Relaying denied: lab.test only"
    assert fields(denied)["enhanced"] == "5.7.1"
    assert fields(denied)["command"] == "RCPT TO:<eve@elsewhere.test>"


def test_other_commands_show_as_sent() -> None:
    lines = [b"RSET", b"NOOP", b"VRFY ann", b"HELO old.lab.test", b"XYZZY magic"]
    pieces = run([(C, b"\r\n".join(lines) + b"\r\n")])
    assert summaries(pieces) == [line.decode() for line in lines]
    assert [fields(p)["command"] for p in pieces] == ["RSET", "NOOP", "VRFY", "HELO", "XYZZY"]
    assert fields(pieces[3])["domain"] == "old.lab.test"
    assert not any(p.malformed for p in pieces)


# -- DATA ------------------------------------------------------------------------


def test_the_message_is_unstuffed_in_fields_and_exact_in_raw() -> None:
    message = run(SEND, greet=False)[9]
    assert message.raw == MESSAGE
    assert message.fields == (
        ("content", "message"),
        ("header: From", "ann@lab.test"),
        ("header: To", "bob@lab.test"),
        ("header: Subject", "Lunch on Friday"),
        ("header: Message-ID", "<1@lab.test>"),
        ("body length", 36),
        ("body", "Hi Bob,\r\n.see you at noon.\r\n.\r\nAnn\r\n"),
    )


def test_encoded_and_folded_headers_are_decoded() -> None:
    content = (
        b"Subject: =?utf-8?q?Caf=C3=A9_at?=\r\n noon\r\nX-Empty:\r\n\r\n.\r\n"
    )
    [_, message] = run([(C, b"DATA\r\n"), (C, content)])
    assert message.summary == 'message: "Café at noon" (54 bytes)'
    assert fields(message)["header: Subject"] == "Café at noon"
    assert fields(message)["body length"] == 0 and "body" not in fields(message)


def test_a_message_without_subject_or_head() -> None:
    [_, message] = run([(C, b"DATA\r\n"), (C, b"just text\r\n.\r\n")])
    assert message.summary.startswith("message: (no subject) (11 bytes)")


def test_a_refused_data_leaves_command_mode() -> None:
    script = [
        (C, b"DATA\r\n"),
        (S, b"503 5.5.1 Error: need RCPT command\r\n"),
        (C, b"RSET\r\n"),
        (S, b"250 OK\r\n"),
    ]
    assert summaries(run(script)) == [
        "DATA", "503 5.5.1 Error: need RCPT command", "RSET", "250 OK",
    ]


def test_a_line_longer_than_the_buffer_inside_data_is_still_content() -> None:
    long_line = b"." + b"a" * (MAX_BUFFER + 100) + b"\r\n"
    content = b"Subject: big\r\n\r\n" + long_line + b".\r\n"
    [_, message] = run([(C, b"DATA\r\n"), (C, content)])
    assert not message.malformed
    assert message.size == len(content)
    assert fields(message)["body length"] == len(long_line) - 1
    assert str(fields(message)["body"]).startswith("aaa")


def test_a_2_mb_message_keeps_a_prefix_its_true_size_and_bounded_memory() -> None:
    body = b"".join(b"line %06d of a long message body\r\n" % n for n in range(60000))
    content = b"Subject: big\r\n\r\n" + body + b".\r\n"
    assert len(content) > 2_000_000
    d = SmtpDissector()
    run([(S, GREETING), (C, b"DATA\r\n"), (S, b"354 go ahead\r\n")], d=d)
    blocks = [content[i : i + 65536] for i in range(0, len(content), 65536)]
    tracemalloc.start()
    try:
        out = [p for block in blocks for p in d.feed(C, block, now=1.0)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [message] = out
    assert message.summary == f'message: "big" ({len(content) - 3:,} bytes)'
    assert message.size == len(content)
    assert message.truncated and message.raw == content[:RAW_LIMIT]
    assert fields(message)["body length"] == len(body)
    assert str(fields(message)["body"]).endswith("…")
    assert peak < 8 * RAW_LIMIT


# -- AUTH ------------------------------------------------------------------------


def test_auth_plain_with_initial_response_is_masked() -> None:
    secret = base64.b64encode(b"\x00ann\x00lab")
    script = [(C, b"AUTH PLAIN " + secret + b"\r\n"), (S, b"235 2.7.0 Authenticated\r\n")]
    auth, ok = run(script)
    assert auth.summary == "AUTH PLAIN ****"
    assert auth.fields == (("command", "AUTH"), ("argument", "PLAIN ****"), ("mechanism", "PLAIN"))
    assert secret in auth.raw
    assert secret.decode() not in repr((auth.summary, auth.fields, ok.summary, ok.fields))
    assert fields(ok)["command"] == "AUTH PLAIN ****"


def test_auth_plain_after_an_empty_challenge_is_masked() -> None:
    secret = base64.b64encode(b"\x00ann\x00lab") + b"\r\n"
    script = [(C, b"AUTH PLAIN\r\n"), (S, b"334 \r\n"), (C, secret), (S, b"235 OK\r\n")]
    pieces = run(script)
    assert summaries(pieces) == ["AUTH PLAIN", "334", "**** (credentials)", "235 OK"]
    assert pieces[2].raw == secret


def test_auth_login_masks_username_and_password() -> None:
    user, password = base64.b64encode(b"ann") + b"\r\n", base64.b64encode(b"lab") + b"\r\n"
    script = [
        (C, b"AUTH LOGIN\r\n"),
        (S, b"334 VXNlcm5hbWU6\r\n"),
        (C, user),
        (S, b"334 UGFzc3dvcmQ6\r\n"),
        (C, password),
        (S, b"235 2.7.0 Authentication successful\r\n"),
        (C, b"MAIL FROM:<ann@lab.test>\r\n"),
    ]
    pieces = run(script)
    assert summaries(pieces) == [
        "AUTH LOGIN",
        "334 VXNlcm5hbWU6",
        "**** (username)",
        "334 UGFzc3dvcmQ6",
        "**** (password)",
        "235 2.7.0 Authentication successful",
        "MAIL FROM:<ann@lab.test>",
    ]
    assert pieces[2].raw == user and pieces[4].raw == password
    assert pieces[4].fields == (
        ("command", "(auth response)"), ("argument", "****"), ("credential", "password"),
    )


def test_a_cancelled_auth_returns_to_commands() -> None:
    script = [(C, b"AUTH LOGIN\r\n"), (S, b"334 VXNlcm5hbWU6\r\n"), (C, b"*\r\n"),
              (S, b"501 5.7.0 Auth aborted\r\n"), (C, b"NOOP\r\n")]
    assert summaries(run(script))[2:] == ["* (cancel)", "501 5.7.0 Auth aborted", "NOOP"]


# -- pipelining, BDAT, STARTTLS ----------------------------------------------------


def test_pipelined_commands_are_pieces_in_order_and_replies_pair_in_order() -> None:
    group = b"MAIL FROM:<ann@lab.test>\r\nRCPT TO:<bob@lab.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
    replies = b"250 OK\r\n250 OK\r\n550 No relay\r\n354 Go ahead\r\n"
    d = SmtpDissector()
    d.feed(S, GREETING, now=0.0)
    commands = d.feed(C, group, now=0.0)
    assert summaries(commands) == [
        "MAIL FROM:<ann@lab.test>", "RCPT TO:<bob@lab.test>", "RCPT TO:<x@y.test>", "DATA",
    ]
    assert b"".join(p.raw for p in commands) == group
    answers = d.feed(S, replies, now=1.0)
    assert [fields(p)["command"] for p in answers] == summaries(commands)
    [message] = d.feed(C, b"Subject: x\r\n\r\nhi\r\n.\r\n", now=2.0)
    assert message.summary == 'message: "x" (18 bytes)'
    [done] = d.feed(S, b"250 OK\r\n", now=3.0)
    assert fields(done)["command"] == 'message: "x" (18 bytes)'


def test_bdat_chunks_follow_their_commands() -> None:
    first, last = b"Subject: chunked\r\n\r\nhel", b"lo\r\n"
    group = b"BDAT %d\r\n%sBDAT %d LAST\r\n%s" % (len(first), first, len(last), last)
    d = SmtpDissector()
    d.feed(S, GREETING, now=0.0)
    pieces = d.feed(C, group, now=0.0)
    assert summaries(pieces) == [
        "BDAT 23", "BDAT content (23 bytes)", "BDAT 4 LAST", "BDAT content (4 bytes, last)",
    ]
    assert [p.raw for p in pieces] == [b"BDAT 23\r\n", first, b"BDAT 4 LAST\r\n", last]
    assert pieces[0].fields == (("command", "BDAT"), ("argument", "23"), ("size", 23),
                                ("last", False))
    assert pieces[3].fields == (("content", "BDAT chunk"), ("length", 4), ("last", True),
                                ("body", "lo\r\n"))
    answers = d.feed(S, b"250 2.0.0 OK\r\n250 2.0.0 Message accepted\r\n", now=1.0)
    assert [fields(p)["command"] for p in answers] == ["BDAT 23", "BDAT 4 LAST"]
    assert summaries(d.feed(C, b"QUIT\r\n", now=2.0)) == ["QUIT"]


def test_a_bdat_chunk_may_hold_a_line_that_looks_like_a_command_or_a_dot() -> None:
    chunk = b".\r\nQUIT\r\n\xff"
    pieces = run([(C, b"BDAT 10 LAST\r\n" + chunk + b"NOOP\r\n")])
    assert summaries(pieces) == ["BDAT 10 LAST", "BDAT content (10 bytes, last)", "NOOP"]
    assert pieces[1].raw == chunk


def test_after_starttls_everything_is_encrypted_raw() -> None:
    hello, answer = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"\x16\x03\x03\x00\x7a\x02"
    script = [
        (C, b"STARTTLS\r\n"),
        (S, b"220 2.0.0 Ready to start TLS\r\n" + answer),
        (C, hello),
        (C, b"EHLO inside\r\n"),
    ]
    d = SmtpDissector()
    d.feed(S, GREETING, now=-1.0)
    pieces = run(script, d=d)
    assert summaries(pieces) == [
        "STARTTLS",
        "220 2.0.0 Ready to start TLS",
        "encrypted after STARTTLS (6 bytes)",
        "encrypted after STARTTLS (11 bytes)",
        "encrypted after STARTTLS (13 bytes)",
    ]
    assert [p.raw for p in pieces[2:]] == [answer, hello, b"EHLO inside\r\n"]
    assert pieces[2].fields == (("tls", "encrypted after STARTTLS"), ("length", 6))
    assert d.close(now=9.0) == []


def test_a_refused_starttls_stays_smtp() -> None:
    script = [(C, b"STARTTLS\r\n"), (S, b"454 4.7.0 TLS not available\r\n"), (C, b"QUIT\r\n")]
    assert summaries(run(script)) == ["STARTTLS", "454 4.7.0 TLS not available", "QUIT"]


# -- what cannot be parsed --------------------------------------------------------


def test_an_over_long_line_is_malformed_and_the_next_command_is_fine() -> None:
    long_line = b"NOOP " + b"x" * 1000 + b"\r\n"
    script = [(C, long_line + b"QUIT\r\n"), (S, b"500 5.5.2 Line too long\r\n221 Bye\r\n")]
    bad, quit_, too_long, bye = run(script)
    assert bad.malformed and bad.raw == long_line and bad.size == 1007
    assert bad.summary == "malformed command: line too long (1,007 bytes)"
    assert fields(bad)["error"] == "line too long (1,007 bytes)"
    assert quit_.summary == "QUIT" and not quit_.malformed
    assert fields(too_long)["command"].startswith("malformed command")  # type: ignore[union-attr]
    assert fields(bye)["command"] == "QUIT"


def test_a_line_of_exactly_1000_octets_is_allowed() -> None:
    line = b"VRFY " + b"v" * 993 + b"\r\n"
    [piece] = run([(C, line)])
    assert len(line) == 1000 and not piece.malformed


def test_a_line_without_end_is_cut_at_the_buffer_limit() -> None:
    endless = b"A" * (MAX_BUFFER * 2 + 10)
    d = SmtpDissector()
    pieces = [p for i in range(0, len(endless), 4096) for p in d.feed(C, endless[i:i + 4096], 0.0)]
    assert summaries(pieces) == [
        "malformed command: line too long (65,536 bytes, no end of line yet)",
        "malformed command: line too long (continued, 65,536 more bytes)",
    ]
    [rest] = d.feed(C, b"\r\nNOOP\r\n", now=1.0)[:1]
    assert rest.summary == "malformed command: line too long (continued, 12 more bytes)"
    assert summaries(d.feed(C, b"RSET\r\n", now=2.0)) == ["RSET"]


def test_garbage_commands_are_malformed() -> None:
    script = [(C, b"\xff\xfe\x00\r\n"), (C, b"123 go\r\n"), (C, b"\r\n"), (C, b"NO\x07OP\r\n")]
    pieces = run(script)
    assert [p.malformed for p in pieces] == [True] * 4
    assert summaries(pieces) == [
        "malformed command: not a command: ff fe 00",
        'malformed command: not a command: "123 go"',
        "malformed command: empty line",
        "malformed command: not a command: 4e 4f 07 4f 50",
    ]
    assert [p.raw for p in pieces] == [data for _, data in script]


def test_a_reply_without_a_code_is_malformed_and_the_next_reply_is_fine() -> None:
    script = [(S, b"hello there\r\n250-a\r\n25x b\r\n220 ready\r\n")]
    bad, merged, ready = run(script)
    assert bad.summary == 'malformed reply: no 3-digit code: "hello there"'
    assert merged.malformed and merged.raw == b"250-a\r\n25x b\r\n"
    assert ready.summary == "220 ready" and not ready.malformed


# -- close -----------------------------------------------------------------------


def test_close_flushes_a_half_command_and_a_half_reply() -> None:
    d = SmtpDissector()
    run([(C, b"MAIL FR"), (S, b"250-lab.test\r\n250-SIZE")], d=d)
    command, reply = d.close(now=5.0)
    assert command.summary == 'incomplete command: "MAIL FR"'
    assert command.malformed and command.truncated and command.raw == b"MAIL FR"
    assert reply.summary == "incomplete reply: 250 lab.test"
    assert reply.raw == b"250-lab.test\r\n250-SIZE" and reply.malformed
    assert d.close(now=6.0) == []


def test_close_flushes_an_unfinished_message() -> None:
    d = SmtpDissector()
    run([(C, b"DATA\r\n"), (S, b"354 go\r\n"), (C, b"Subject: cut\r\n\r\nsome bo")], d=d)
    [message] = d.close(now=5.0)
    assert message.summary == 'incomplete message: "cut" (23 bytes)'
    assert message.truncated and not message.malformed
    assert message.raw == b"Subject: cut\r\n\r\nsome bo"


def test_close_flushes_an_unfinished_bdat_chunk() -> None:
    d = SmtpDissector()
    run([(C, b"BDAT 100 LAST\r\nonly this")], d=d)
    [chunk] = d.close(now=5.0)
    assert chunk.summary == "incomplete BDAT content (9 of 100 bytes)"
    assert chunk.raw == b"only this" and chunk.truncated


# -- any chunking, any bytes -----------------------------------------------------

_WORD = st.from_regex(rb"[a-z]{1,8}", fullmatch=True)
_BODY_LINE = st.one_of(
    st.from_regex(rb"[ -~]{0,40}", fullmatch=True), st.just(b"."), st.just(b".."),
    st.just(b".hidden"), st.just(b""),
)


@st.composite
def transaction(draw: st.DrawFn) -> list[tuple[Sender, bytes]]:
    """MAIL, RCPTs, then DATA or BDAT chunks, pipelined or not, and the replies."""
    rcpts = [b"RCPT TO:<%s@lab.test>\r\n" % w for w in draw(st.lists(_WORD, min_size=1,
                                                                       max_size=3))]
    commands = [b"MAIL FROM:<%s@lab.test>\r\n" % draw(_WORD), *rcpts]
    if draw(st.booleans()):
        lines = draw(st.lists(_BODY_LINE, max_size=8))
        stuffed = b"".join((b"." if x.startswith(b".") else b"") + x + b"\r\n" for x in lines)
        content = b"Subject: %s\r\n\r\n" % draw(_WORD) + stuffed
        talk = _commands(draw, [*commands, b"DATA\r\n"], b"354 Go\r\n")
        return talk + [(C, content + b".\r\n"), (S, b"250 2.0.0 OK\r\n")]
    chunks = draw(st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=3))
    talk = _commands(draw, commands, b"250 OK\r\n")
    for n, chunk in enumerate(chunks):
        last = b" LAST" if n == len(chunks) - 1 else b""
        talk += [(C, b"BDAT %d%s\r\n%s" % (len(chunk), last, chunk)), (S, b"250 OK\r\n")]
    return talk


def _commands(
    draw: st.DrawFn, commands: list[bytes], last_reply: bytes
) -> list[tuple[Sender, bytes]]:
    replies = [b"250 2.1.0 OK\r\n"] * (len(commands) - 1) + [last_reply]
    if draw(st.booleans()):
        return [(C, b"".join(commands)), (S, b"".join(replies))]
    return [step for pair in zip(commands, replies, strict=True)
            for step in ((C, pair[0]), (S, pair[1]))]


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[Sender, bytes]]:
    talk: list[tuple[Sender, bytes]] = [(S, GREETING), (C, EHLO), (S, EHLO_REPLY)]
    if draw(st.booleans()):
        talk += [(C, b"AUTH LOGIN\r\n"), (S, b"334 VXNlcm5hbWU6\r\n"), (C, b"YW5u\r\n"),
                 (S, b"334 UGFzc3dvcmQ6\r\n"), (C, b"bGFi\r\n"), (S, b"235 OK\r\n")]
    for _ in range(draw(st.integers(1, 3))):
        talk += draw(transaction())
        talk += [(C, b"RSET\r\n"), (S, b"250 OK\r\n")] if draw(st.booleans()) else []
    return talk + [(C, b"QUIT\r\n"), (S, b"221 Bye\r\n")]


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def converse(talk: Script, cut: st.DataObject | None) -> list[Piece]:
    d = SmtpDissector()
    pieces: list[Piece] = []
    for i, (sender, data) in enumerate(talk):
        chunks = [data]
        if cut is not None:
            chunks = split(data, cut.draw(st.lists(st.integers(0, len(data)), max_size=6)))
        for chunk in chunks:
            pieces += d.feed(sender, chunk, now=float(i))
    return pieces + d.close(now=float(len(talk)))


@settings(max_examples=150, deadline=None)
@given(conversations(), st.data())
def test_any_split_of_a_conversation_gives_the_same_pieces(
    talk: list[tuple[Sender, bytes]], data: st.DataObject
) -> None:
    whole = converse(talk, None)
    assert not any(p.malformed or p.truncated for p in whole)
    for sender in Sender:
        assert b"".join(p.raw for p in whole if p.sender is sender) == sent(talk, sender)
    assert sum(p.sender is S for p in whole) == sum(
        data.count(b"\r\n") - data.count(b"-") for who, data in talk if who is S
    )
    assert converse(talk, data) == whole


@settings(max_examples=30, deadline=None)
@given(conversations())
def test_byte_by_byte_gives_the_same_pieces(talk: list[tuple[Sender, bytes]]) -> None:
    d = SmtpDissector()
    pieces: list[Piece] = []
    for i, (sender, data) in enumerate(talk):
        for n in range(len(data)):
            pieces += d.feed(sender, data[n : n + 1], now=float(i))
    assert pieces + d.close(now=float(len(talk))) == converse(talk, None)


_FRAGMENTS = [
    GREETING, EHLO, EHLO_REPLY, b"DATA\r\n", b"354 go\r\n", b".\r\n", b"\r\n", b"BDAT 5\r\n",
    b"STARTTLS\r\n", b"220 go\r\n", b"AUTH LOGIN\r\n", b"334 VXNlcm5hbWU6\r\n", b"250-x\r\n",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Sender)),
            st.one_of(st.binary(max_size=64), st.sampled_from(_FRAGMENTS)),
        ),
        max_size=14,
    )
)
def test_any_bytes_never_raise_and_every_byte_is_shown(script: list[tuple[Sender, bytes]]) -> None:
    pieces = run(script, close=True, greet=False)
    for sender in Sender:
        assert sum(p.size for p in pieces if p.sender is sender) == len(sent(script, sender))
        assert b"".join(p.raw for p in pieces if p.sender is sender) == sent(script, sender)
    assert all(len(p.raw) <= RAW_LIMIT and "\n" not in p.summary for p in pieces)
