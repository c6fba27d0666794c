"""The POP3 dissector on bytes alone: commands, single and multi-line responses, any chunking."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.pop3 import Pop3Dissector
from lab.model import RAW_LIMIT, Piece, Sender
from tests.lab.dissect_helpers import Script, feed_script, fields, greeted, sent, summaries

C, S = Sender.CLIENT, Sender.SERVER


GREETING = b"+OK POP3 server ready <1896.697170952@lab.test>\r\n"
MAIL = (
    b"From: ann@lab.test\r\nTo: bob@lab.test\r\nSubject: Lunch on Friday\r\n\r\n"
    b"Hi Bob,\r\n..see you at noon.\r\n..\r\n"
)
RETR = b"+OK 120 octets\r\n" + MAIL + b".\r\n"
SESSION = [
    (S, GREETING),
    (C, b"USER bob\r\n"),
    (S, b"+OK bob\r\n"),
    (C, b"PASS lab\r\n"),
    (S, b"+OK bob has 2 messages (320 octets)\r\n"),
    (C, b"STAT\r\n"),
    (S, b"+OK 2 320\r\n"),
    (C, b"LIST\r\n"),
    (S, b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"),
    (C, b"LIST 2\r\n"),
    (S, b"+OK 2 200\r\n"),
    (C, b"UIDL\r\n"),
    (S, b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"),
    (C, b"RETR 9\r\n"),
    (S, b"-ERR no such message\r\n"),
    (C, b"RETR 1\r\n"),
    (S, RETR),
    (C, b"TOP 2 0\r\n"),
    (S, b"+OK\r\nSubject: Second\r\n\r\n.\r\n"),
    (C, b"DELE 1\r\n"),
    (S, b"+OK message 1 deleted\r\n"),
    (C, b"NOOP\r\n"),
    (S, b"+OK\r\n"),
    (C, b"RSET\r\n"),
    (S, b"+OK maildrop has 2 messages (320 octets)\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"+OK POP3 server signing off\r\n"),
]


def run(script: Script, *, d: Pop3Dissector | None = None, close: bool = False,
        greet: bool = True) -> list[Piece]:
    """Feed ``script`` to ``d`` (or a fresh dissector that saw the greeting, if ``greet``)."""
    if d is None:
        d = Pop3Dissector()
        if greet:
            greeted(d, GREETING)
    return feed_script(d, script, close=close)


def test_make_gives_the_pop3_dissector() -> None:
    assert isinstance(dissect.make("pop3"), Pop3Dissector)


def test_a_session_is_one_piece_per_command_and_response() -> None:
    pieces = run(SESSION, close=True, greet=False)
    assert summaries(pieces) == [
        "+OK POP3 server ready <1896.697170952@lab.test>",
        "USER bob",
        "+OK bob",
        "PASS ****",
        "+OK bob has 2 messages (320 octets)",
        "STAT",
        "+OK 2 320",
        "LIST",
        "+OK 2 messages (320 octets)",
        "LIST 2",
        "+OK 2 200",
        "UIDL",
        "+OK",
        "RETR 9",
        "-ERR no such message",
        "RETR 1",
        '+OK 120 octets; message: "Lunch on Friday" (97 bytes)',
        "TOP 2 0",
        '+OK; message: "Second" (19 bytes)',
        "DELE 1",
        "+OK message 1 deleted",
        "NOOP",
        "+OK",
        "RSET",
        "+OK maildrop has 2 messages (320 octets)",
        "QUIT",
        "+OK POP3 server signing off",
    ]
    assert [p.raw for p in pieces] == [data for _, data in SESSION]
    assert [p.time for p in pieces] == [float(i) for i in range(len(SESSION))]
    assert not any(p.malformed or p.truncated for p in pieces)


def test_pass_is_masked_but_raw_keeps_it() -> None:
    pieces = run(SESSION[:5], greet=False)
    assert pieces[3].fields == (("command", "PASS"), ("argument", "****"))
    assert pieces[3].raw == b"PASS lab\r\n"
    assert fields(pieces[4])["command"] == "PASS ****"
    assert "lab" not in repr([(p.summary, p.fields) for p in pieces if p is not pieces[0]])


def test_response_fields() -> None:
    pieces = run(SESSION, greet=False)
    greeting, stat, listing, one, uidl, err = (pieces[i] for i in (0, 6, 8, 10, 12, 14))
    assert greeting.fields == (
        ("status", "+OK"), ("text", "POP3 server ready <1896.697170952@lab.test>"),
    )
    assert stat.fields == (("status", "+OK"), ("text", "2 320"), ("command", "STAT"))
    assert listing.fields == (
        ("status", "+OK"),
        ("text", "2 messages (320 octets)"),
        ("entries", 2),
        ("listing", "1 120\n2 200"),
        ("command", "LIST"),
    )
    assert fields(one) == {"status": "+OK", "text": "2 200", "command": "LIST 2"}
    assert fields(uidl)["entries"] == 2
    assert fields(uidl)["listing"] == "1 whqtswO00WBw418f9t5JxYwZ\n2 QhdPYR:00WBw1Ph7x7"
    assert err.fields == (("status", "-ERR"), ("text", "no such message"),
                          ("command", "RETR 9"))


def test_retr_is_unstuffed_and_its_headers_parsed() -> None:
    retr = run(SESSION, greet=False)[16]
    assert retr.raw == RETR and retr.size == len(RETR)
    assert retr.fields == (
        ("status", "+OK"),
        ("text", "120 octets"),
        ("header: From", "ann@lab.test"),
        ("header: To", "bob@lab.test"),
        ("header: Subject", "Lunch on Friday"),
        ("body length", 31),
        ("body", "Hi Bob,\r\n.see you at noon.\r\n.\r\n"),
        ("command", "RETR 1"),
    )


def test_err_after_a_multiline_command_does_not_wait_for_a_dot() -> None:
    d = Pop3Dissector()
    d.feed(S, GREETING, now=0.0)
    for command in (b"RETR 9\r\n", b"LIST\r\n", b"TOP 9 1\r\n", b"CAPA\r\n"):
        d.feed(C, command, now=1.0)
        [err] = d.feed(S, b"-ERR no\r\n", now=2.0)
        assert err.summary == "-ERR no"
        assert fields(err)["command"] == command.decode().strip()


def test_pipelined_commands_pair_with_their_responses() -> None:
    d = Pop3Dissector()
    d.feed(S, GREETING, now=0.0)
    commands = d.feed(C, b"STAT\r\nLIST\r\nRETR 1\r\nQUIT\r\n", now=1.0)
    assert summaries(commands) == ["STAT", "LIST", "RETR 1", "QUIT"]
    answers = d.feed(S, b"+OK 1 99\r\n+OK\r\n1 99\r\n.\r\n" + RETR + b"+OK bye\r\n", now=2.0)
    assert [fields(p)["command"] for p in answers] == summaries(commands)
    assert [p.raw for p in answers] == [b"+OK 1 99\r\n", b"+OK\r\n1 99\r\n.\r\n", RETR,
                                        b"+OK bye\r\n"]


def test_capa_lists_the_capabilities() -> None:
    [_, capa] = run([(C, b"CAPA\r\n"), (S, b"+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
                                             b"USER\r\nSASL PLAIN\r\n.\r\n")])
    assert capa.summary == "+OK Capability list follows"
    assert fields(capa)["entries"] == 4
    assert fields(capa)["capabilities"] == "TOP, UIDL, USER, SASL PLAIN"


def test_apop_and_auth_are_masked() -> None:
    apop = b"APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n"
    script = [
        (C, apop),
        (S, b"+OK\r\n"),
        (C, b"AUTH PLAIN\r\n"),
        (S, b"+ \r\n"),
        (C, b"AGJvYgBsYWI=\r\n"),
        (S, b"+OK logged in\r\n"),
        (C, b"AUTH PLAIN AGJvYgBsYWI=\r\n"),
    ]
    pieces = run(script)
    assert summaries(pieces) == [
        "APOP bob ****", "+OK", "AUTH PLAIN", "+", "**** (credentials)", "+OK logged in",
        "AUTH PLAIN ****",
    ]
    assert pieces[0].raw == apop
    assert fields(pieces[0])["argument"] == "bob ****"
    assert fields(pieces[3])["status"] == "+"
    assert pieces[4].raw == b"AGJvYgBsYWI=\r\n"


def test_stls_turns_both_directions_to_encrypted_raw() -> None:
    script = [(C, b"STLS\r\n"), (S, b"+OK Begin TLS\r\n\x16\x03\x03"), (C, b"\x16\x03\x01")]
    pieces = run(script)
    assert summaries(pieces) == [
        "STLS", "+OK Begin TLS", "encrypted after STLS (3 bytes)", "encrypted after STLS (3 bytes)",
    ]


# -- what cannot be parsed --------------------------------------------------------


def test_malformed_lines_are_pieces_and_the_next_line_is_fine() -> None:
    long_user = b"USER " + b"u" * 300 + b"\r\n"
    script = [
        (C, b"\xff\xfe\r\n" + long_user + b"NOOP\r\n"),
        (S, b"-ERR unknown command\r\n-ERR line too long\r\nhello?\r\n+OK\r\n"),
    ]
    bad, long_, noop, err1, err2, junk, ok = run(script)
    assert bad.malformed and bad.summary == "malformed command: not a command: ff fe"
    assert long_.malformed and long_.raw == long_user
    assert long_.summary == "malformed command: line too long (307 bytes)"
    assert noop.summary == "NOOP" and not noop.malformed
    assert fields(err1)["command"] == "malformed command: not a command: ff fe"
    assert not err2.malformed
    assert junk.malformed and junk.summary == 'malformed response: not +OK or -ERR: "hello?"'
    assert fields(ok)["command"] == "NOOP"


def test_a_plus_outside_auth_is_malformed() -> None:
    [_, bad] = run([(C, b"STAT\r\n"), (S, b"+ what\r\n")])
    assert bad.malformed


# -- close, and big ---------------------------------------------------------------


def test_close_flushes_a_half_retr_and_a_half_command() -> None:
    d = Pop3Dissector()
    run([(S, GREETING), (C, b"RETR 1\r\n"), (S, b"+OK\r\nSubject: cut\r\n\r\nbo"), (C, b"QU")],
        d=d)
    command, reply = d.close(now=9.0)
    assert command.summary == 'incomplete command: "QU"' and command.malformed
    assert reply.summary == 'incomplete +OK; message: "cut" (18 bytes)'
    assert reply.truncated and not reply.malformed
    assert reply.raw == b"+OK\r\nSubject: cut\r\n\r\nbo"
    assert fields(reply)["command"] == "RETR 1"


def test_a_big_retr_keeps_a_prefix_its_true_size_and_bounded_memory() -> None:
    body = b"".join(b"line %06d of a long message body\r\n" % n for n in range(60000))
    response = b"+OK %d octets\r\nSubject: big\r\n\r\n%s.\r\n" % (len(body), body)
    d = Pop3Dissector()
    run([(S, GREETING), (C, b"RETR 1\r\n")], d=d)
    blocks = [response[i : i + 65536] for i in range(0, len(response), 65536)]
    tracemalloc.start()
    try:
        out = [p for block in blocks for p in d.feed(S, block, now=1.0)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [piece] = out
    assert piece.size == len(response)
    assert piece.truncated and piece.raw == response[:RAW_LIMIT]
    assert fields(piece)["body length"] == len(body)
    assert peak < 8 * RAW_LIMIT


# -- any chunking, any bytes -----------------------------------------------------


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


_LINE = st.one_of(st.from_regex(rb"[ -~]{0,30}", fullmatch=True), st.sampled_from([b".", b".x"]))


@st.composite
def sessions(draw: st.DrawFn) -> list[tuple[Sender, bytes]]:
    talk = list(SESSION[:5])
    for _ in range(draw(st.integers(1, 5))):
        n = draw(st.integers(1, 9))
        lines = draw(st.lists(_LINE, max_size=6))
        stuffed = b"".join((b"." if x.startswith(b".") else b"") + x + b"\r\n" for x in lines)
        choices = [
            (b"RETR %d\r\n" % n, b"+OK\r\nSubject: s\r\n\r\n" + stuffed + b".\r\n"),
            (b"RETR %d\r\n" % n, b"-ERR no such message\r\n"),
            (b"LIST\r\n", b"+OK\r\n" + b"".join(b"%d 1\r\n" % i for i in range(n)) + b".\r\n"),
            (b"LIST %d\r\n" % n, b"+OK %d 120\r\n" % n),
            (b"DELE %d\r\n" % n, b"+OK\r\n"),
        ]
        command, response = draw(st.sampled_from(choices))
        talk += [(C, command), (S, response)]
    return talk + SESSION[-2:]


def converse(talk: Script, cut: st.DataObject | None) -> list[Piece]:
    d = Pop3Dissector()
    pieces: list[Piece] = []
    for i, (sender, data) in enumerate(talk):
        chunks = [data]
        if cut is not None:
            chunks = split(data, cut.draw(st.lists(st.integers(0, len(data)), max_size=6)))
        for chunk in chunks:
            pieces += d.feed(sender, chunk, now=float(i))
    return pieces + d.close(now=float(len(talk)))


@settings(max_examples=150, deadline=None)
@given(sessions(), st.data())
def test_any_split_of_a_session_gives_the_same_pieces(
    talk: list[tuple[Sender, bytes]], data: st.DataObject
) -> None:
    whole = converse(talk, None)
    assert [p.raw for p in whole] == [data for _, data in talk]
    assert not any(p.malformed or p.truncated for p in whole)
    assert converse(talk, data) == whole


_FRAGMENTS = [GREETING, b"RETR 1\r\n", b"LIST\r\n", b"+OK\r\n", b".\r\n", b"-ERR x\r\n",
              b"STLS\r\n", b"AUTH X\r\n", b"+ \r\n", b"\r\n"]


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
# Found by hypothesis: a byte buffered just before the switch to TLS was lost.
@example(script=[(Sender.CLIENT, b"STLS\n"), (Sender.SERVER, b"+OK\n"),
                 (Sender.CLIENT, b"\x00"), (Sender.SERVER, b"+OK\n")])
# …and shown in order, before what came after the switch.
@example(script=[(Sender.CLIENT, b"STLS\n"), (Sender.SERVER, b"+OK\n"),
                 (Sender.CLIENT, b"\x01"), (Sender.SERVER, b"+OK\n"),
                 (Sender.CLIENT, b"\x00")])
def test_any_bytes_never_raise_and_every_byte_is_shown(script: list[tuple[Sender, bytes]]) -> None:
    pieces = run(script, close=True, greet=False)
    for sender in Sender:
        assert sum(p.size for p in pieces if p.sender is sender) == len(sent(script, sender))
        assert b"".join(p.raw for p in pieces if p.sender is sender) == sent(script, sender)
    assert all(len(p.raw) <= RAW_LIMIT and "\n" not in p.summary for p in pieces)
