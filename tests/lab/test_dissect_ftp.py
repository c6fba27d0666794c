"""The FTP dissectors on bytes alone: control commands and replies, data connections."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.ftp import FtpDissector
from lab.dissect.ftp_data import (
    FtpDataDissector,
    format_227,
    format_229,
    format_eprt,
    format_port,
    human_size,
    parse_data_address,
    summarise_transfer,
)
from lab.dissect.lines import MAX_BUFFER
from lab.model import RAW_LIMIT, Piece, Sender
from tests.lab.dissect_helpers import Script, feed_script, fields, greeted, sent, summaries

C, S = Sender.CLIENT, Sender.SERVER


GREETING = b"220 Client-Server Lab FTP ready\r\n"
FEAT_REPLY = b"211-Features:\r\n MDTM\r\n SIZE\r\n EPSV\r\n211 End\r\n"
SESSION = [
    (S, GREETING),
    (C, b"USER student\r\n"),
    (S, b"331 Password required for student\r\n"),
    (C, b"PASS lab\r\n"),
    (S, b"230 Logged in\r\n"),
    (C, b"SYST\r\n"),
    (S, b"215 UNIX Type: L8\r\n"),
    (C, b"FEAT\r\n"),
    (S, FEAT_REPLY),
    (C, b"PWD\r\n"),
    (S, b'257 "/" is the current directory\r\n'),
    (C, b"TYPE I\r\n"),
    (S, b"200 Type set to I\r\n"),
    (C, b"PASV\r\n"),
    (S, b"227 Entering Passive Mode (127,0,0,1,195,80).\r\n"),
    (C, b"LIST\r\n"),
    (S, b"150 Here comes the directory listing\r\n"),
    (S, b"226 Directory send OK\r\n"),
    (C, b"PASV\r\n"),
    (S, b"227 Entering Passive Mode (127,0,0,1,195,81).\r\n"),
    (C, b"RETR report.pdf\r\n"),
    (S, b"150 Opening BINARY mode data connection for report.pdf (1234567 bytes)\r\n"),
    (S, b"226 Transfer complete\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"221 Goodbye\r\n"),
]


def run(script: Script, *, d: FtpDissector | None = None, close: bool = False,
        greet: bool = True) -> list[Piece]:
    """Feed ``script`` to ``d`` (or a fresh dissector that saw the greeting, if ``greet``)."""
    if d is None:
        d = FtpDissector()
        if greet:
            greeted(d, GREETING)
    return feed_script(d, script, close=close)


# -- a whole session ------------------------------------------------------------------


def test_make_gives_the_ftp_dissectors() -> None:
    assert isinstance(dissect.make("ftp"), FtpDissector)
    assert isinstance(dissect.make("ftp-data"), FtpDataDissector)


def test_a_passive_session_is_one_piece_per_command_and_reply() -> None:
    pieces = run(SESSION, close=True, greet=False)
    assert summaries(pieces) == [
        "220 Client-Server Lab FTP ready",
        "USER student",
        "331 Password required for student",
        "PASS ****",
        "230 Logged in",
        "SYST",
        "215 UNIX Type: L8",
        "FEAT",
        "211 Features:",
        "PWD",
        '257 "/" is the current directory',
        "TYPE I",
        "200 Type set to I",
        "PASV",
        "227 Entering Passive Mode (127,0,0,1,195,80).",
        "LIST",
        "150 Here comes the directory listing",
        "226 Directory send OK",
        "PASV",
        "227 Entering Passive Mode (127,0,0,1,195,81).",
        "RETR report.pdf",
        "150 Opening BINARY mode data connection for report.pdf (1234567 bytes)",
        "226 Transfer complete",
        "QUIT",
        "221 Goodbye",
    ]
    assert [p.raw for p in pieces] == [data for _, data in SESSION]
    assert [p.size for p in pieces] == [len(data) for _, data in SESSION]
    assert [p.sender for p in pieces] == [who for who, _ in SESSION]
    assert [p.time for p in pieces] == [float(i) for i in range(len(SESSION))]
    assert not any(p.malformed or p.truncated for p in pieces)


def test_replies_name_the_command_they_answer() -> None:
    pieces = run(SESSION, greet=False)
    answered = {p.summary: fields(p).get("command") for p in pieces if p.sender is S}
    assert answered == {
        "220 Client-Server Lab FTP ready": None,
        "331 Password required for student": "USER student",
        "230 Logged in": "PASS ****",
        "215 UNIX Type: L8": "SYST",
        "211 Features:": "FEAT",
        '257 "/" is the current directory': "PWD",
        "200 Type set to I": "TYPE I",
        "227 Entering Passive Mode (127,0,0,1,195,80).": "PASV",
        "150 Here comes the directory listing": "LIST",
        "226 Directory send OK": "LIST",
        "227 Entering Passive Mode (127,0,0,1,195,81).": "PASV",
        "150 Opening BINARY mode data connection for report.pdf (1234567 bytes)":
            "RETR report.pdf",
        "226 Transfer complete": "RETR report.pdf",
        "221 Goodbye": "QUIT",
    }


def test_the_password_is_masked_everywhere_but_raw() -> None:
    pieces = run(SESSION, greet=False)
    password = pieces[3]
    assert password.fields == (("command", "PASS"), ("argument", "****"))
    assert password.raw == b"PASS lab\r\n"
    shown = repr([(p.summary, p.fields) for p in pieces])
    assert "PASS lab" not in shown and "'lab'" not in shown
    [lower] = run([(C, b"pass s3cret words\r\n")])
    assert lower.summary == "pass ****" and "s3cret" not in repr(lower.fields)
    [empty] = run([(C, b"PASS\r\n")])
    assert empty.summary == "PASS" and empty.fields == (("command", "PASS"),)


def test_the_feat_reply_is_one_piece_with_all_its_lines() -> None:
    feat = run(SESSION, greet=False)[8]
    assert feat.raw == FEAT_REPLY and feat.size == len(FEAT_REPLY)
    assert feat.fields == (
        ("code", 211), ("text", "Features:\n MDTM\n SIZE\n EPSV\nEnd"), ("command", "FEAT"),
    )


def test_a_multi_line_reply_ends_only_at_its_own_code_and_a_space() -> None:
    reply = b"214-The following commands are recognised:\r\n200 is not the end\r\n" \
            b"214-nor this\r\n214\r\n"
    [piece] = run([(S, reply)])
    assert piece.summary == "214 The following commands are recognised:"
    assert fields(piece)["text"] == (
        "The following commands are recognised:\n200 is not the end\nnor this\n"
    )
    assert piece.raw == reply


def test_command_fields_and_summaries_as_sent() -> None:
    lines = [
        b"CWD docs", b"EPSV", b"LIST", b"NLST", b"MLSD", b"STOR up.txt", b"APPE log.txt",
        b"DELE old.txt", b"MKD new", b"RMD new", b"RNFR a.txt", b"RNTO b.txt",
        b"SIZE report.pdf", b"MDTM report.pdf", b"TYPE A", b"CDUP", b"NOOP", b"retr Mixed.TXT",
    ]
    pieces = run([(C, b"\r\n".join(lines) + b"\r\n")])
    assert summaries(pieces) == [line.decode() for line in lines]
    assert [fields(p)["command"] for p in pieces] == [
        line.split()[0].decode().upper() for line in lines
    ]
    assert pieces[0].fields == (("command", "CWD"), ("argument", "docs"))
    assert pieces[1].fields == (("command", "EPSV"),)
    assert fields(pieces[-1])["argument"] == "Mixed.TXT"
    assert not any(p.malformed for p in pieces)


def test_rest_names_its_offset_and_its_350_answers_it() -> None:
    script = [(C, b"REST 1000\r\n"), (S, b"350 Restarting at 1000\r\n"),
              (C, b"RETR big.bin\r\n"), (S, b"150 go\r\n226 done\r\n")]
    rest, restarting, retr, go, done = run(script)
    assert rest.fields == (("command", "REST"), ("argument", "1000"), ("offset", 1000))
    assert fields(restarting)["command"] == "REST 1000"
    assert [fields(p)["command"] for p in (go, done)] == ["RETR big.bin"] * 2


# -- data addresses ------------------------------------------------------------------


def test_active_port_and_eprt_name_the_address() -> None:
    script = [
        (C, b"PORT 127,0,0,1,200,10\r\n"),
        (S, b"200 PORT command successful\r\n"),
        (C, b"EPRT |1|127.0.0.1|51210|\r\n"),
        (S, b"200 EPRT command successful\r\n"),
        (C, b"EPRT |2|::1|5282|\r\n"),
        (C, b"PORT 127,0,0,1,300,1\r\n"),
    ]
    port, ok, eprt, ok2, eprt6, bad = run(script)
    assert port.fields == (("command", "PORT"), ("argument", "127,0,0,1,200,10"),
                           ("address", "127.0.0.1:51210"))
    assert eprt.fields == (("command", "EPRT"), ("argument", "|1|127.0.0.1|51210|"),
                           ("address", "127.0.0.1:51210"))
    assert fields(eprt6)["address"] == "[::1]:5282"
    assert "address" not in fields(bad) and not bad.malformed
    assert fields(ok)["command"] == "PORT 127,0,0,1,200,10"
    assert fields(ok2)["command"] == "EPRT |1|127.0.0.1|51210|"


def test_227_names_the_address_and_229_the_port() -> None:
    script = [
        (C, b"PASV\r\n"), (S, b"227 Entering Passive Mode (127,0,0,1,195,80).\r\n"),
        (C, b"EPSV\r\n"), (S, b"229 Entering Extended Passive Mode (|||50000|)\r\n"),
        (C, b"PASV\r\n"), (S, b"227 Entering Passive Mode 10,0,0,7,4,1\r\n"),
    ]
    _, pasv, _, epsv, _, bare = run(script)
    assert pasv.fields == (
        ("code", 227), ("text", "Entering Passive Mode (127,0,0,1,195,80)."),
        ("command", "PASV"), ("address", "127.0.0.1:50000"),
    )
    assert epsv.fields == (
        ("code", 229), ("text", "Entering Extended Passive Mode (|||50000|)"),
        ("command", "EPSV"), ("port", 50000),
    )
    assert fields(bare)["address"] == "10.0.0.7:1025"


@pytest.mark.parametrize(
    ("line", "address"),
    [
        (b"227 Entering Passive Mode (127,0,0,1,195,80).\r\n", ("127.0.0.1", 50000)),
        ("227 =10,1,2,3,0,21", ("10.1.2.3", 21)),
        (b"229 Entering Extended Passive Mode (|||50000|)\r\n", (None, 50000)),
        (b"229 Extended (!!!2121!)", (None, 2121)),
        (b"PORT 127,0,0,1,200,10\r\n", ("127.0.0.1", 51210)),
        (b"port 192,168,1,2,0,20", ("192.168.1.2", 20)),
        (b"EPRT |1|127.0.0.1|51210|\r\n", ("127.0.0.1", 51210)),
        (b"EPRT |2|fe80::1|6000|", ("fe80::1", 6000)),
        (b"PORT 127,0,0,1,256,0", None),
        (b"PORT 1,2,3", None),
        (b"EPRT |1||80|", None),
        (b"EPRT |3|x|80|", None),
        (b"229 no address", None),
        (b"229 (|||99999|)", None),
        (b"200 OK (127,0,0,1,195,80)", None),
        (b"RETR 127,0,0,1,1,1", None),
        (b"", None),
        (b"\xff\xfe\r\n", None),
    ],
)
def test_parse_data_address(line: bytes | str, address: tuple[str | None, int] | None) -> None:
    assert parse_data_address(line) == address


def test_parse_data_address_takes_a_piece() -> None:
    port, reply = run([(C, b"PORT 127,0,0,1,200,10\r\n"),
                       (S, b"227 Entering Passive Mode (10,0,0,1,4,0).\r\n")])
    assert parse_data_address(port) == ("127.0.0.1", 51210)
    assert parse_data_address(reply) == ("10.0.0.1", 1024)


def test_the_formatters_write_exact_lines() -> None:
    assert format_227("127.0.0.1", 50000) == b"227 Entering Passive Mode (127,0,0,1,195,80).\r\n"
    assert format_229(50000) == b"229 Entering Extended Passive Mode (|||50000|)\r\n"
    assert format_port("127.0.0.1", 51210) == b"PORT 127,0,0,1,200,10\r\n"
    assert format_eprt("127.0.0.1", 51210) == b"EPRT |1|127.0.0.1|51210|\r\n"
    assert format_eprt("::1", 5282) == b"EPRT |2|::1|5282|\r\n"


@pytest.mark.parametrize(
    "bad",
    [lambda: format_227("::1", 21), lambda: format_port("localhost", 21),
     lambda: format_227("127.0.0.1", 0), lambda: format_229(70000),
     lambda: format_eprt("not-an-ip", 21), lambda: format_port("127.0.0.1", -1)],
)
def test_the_formatters_refuse_what_they_cannot_write(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]


_IPV4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
_IPV6 = st.ip_addresses(v=6).map(str)
_PORT = st.integers(1, 65535)


@given(_IPV4, _PORT)
def test_ipv4_formatters_round_trip_through_the_parser(host: str, port: int) -> None:
    assert parse_data_address(format_227(host, port)) == (host, port)
    assert parse_data_address(format_port(host, port)) == (host, port)
    assert parse_data_address(format_eprt(host, port)) == (host, port)
    assert parse_data_address(format_229(port)) == (None, port)


@given(_IPV6, _PORT)
def test_ipv6_eprt_round_trips_through_the_parser(host: str, port: int) -> None:
    assert parse_data_address(format_eprt(host, port)) == (host, port)


def test_a_rewritten_line_dissects_like_the_original() -> None:
    [piece] = run([(S, format_227("10.0.0.2", 40000))], d=FtpDissector())
    assert fields(piece)["address"] == "10.0.0.2:40000"
    [command] = run([(C, format_eprt("10.0.0.2", 40001))])
    assert fields(command)["address"] == "10.0.0.2:40001"


# -- pipelining, AUTH TLS -------------------------------------------------------------


def test_pipelined_commands_pair_with_their_replies_in_order() -> None:
    group = b"USER student\r\nPASS lab\r\nTYPE I\r\nPASV\r\nRETR a.txt\r\n"
    replies = (b"331 Password please\r\n230 Logged in\r\n200 Binary\r\n"
               b"227 Entering Passive Mode (127,0,0,1,4,1).\r\n150 go\r\n226 done\r\n")
    d = FtpDissector()
    d.feed(S, GREETING, now=0.0)
    commands = d.feed(C, group, now=0.0)
    assert summaries(commands) == ["USER student", "PASS ****", "TYPE I", "PASV", "RETR a.txt"]
    assert b"".join(p.raw for p in commands) == group
    answers = d.feed(S, replies, now=1.0)
    assert [fields(p)["command"] for p in answers] == [
        "USER student", "PASS ****", "TYPE I", "PASV", "RETR a.txt", "RETR a.txt",
    ]


def test_after_234_to_auth_tls_everything_is_encrypted_raw() -> None:
    hello, answer = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"\x16\x03\x03\x00\x7a\x02"
    script = [
        (C, b"AUTH TLS\r\n"),
        (S, b"234 Proceed with negotiation.\r\n" + answer),
        (C, hello),
        (C, b"USER inside\r\n"),
    ]
    d = FtpDissector()
    d.feed(S, GREETING, now=-1.0)
    pieces = run(script, d=d)
    assert summaries(pieces) == [
        "AUTH TLS",
        "234 Proceed with negotiation.",
        "encrypted after AUTH TLS (6 bytes)",
        "encrypted after AUTH TLS (11 bytes)",
        "encrypted after AUTH TLS (13 bytes)",
    ]
    assert [p.raw for p in pieces[2:]] == [answer, hello, b"USER inside\r\n"]
    assert d.close(now=9.0) == []


def test_a_handshake_sent_before_the_234_is_encrypted_too() -> None:
    d = FtpDissector()
    run([(S, GREETING), (C, b"AUTH SSL\r\n\x16\x03\x01\x00")], d=d)
    [reply, early] = d.feed(S, b"234 AUTH SSL ok\r\n", now=1.0)
    assert early.summary == "encrypted after AUTH TLS (4 bytes)" and early.sender is C


def test_a_refused_auth_tls_stays_ftp() -> None:
    script = [(C, b"AUTH TLS\r\n"), (S, b"534 TLS not available\r\n"), (C, b"USER x\r\n")]
    assert summaries(run(script)) == ["AUTH TLS", "534 TLS not available", "USER x"]
    script = [(C, b"AUTH GSSAPI\r\n"), (S, b"234 hmm\r\n"), (C, b"USER x\r\n")]
    assert summaries(run(script))[-1] == "USER x"


# -- what cannot be parsed ----------------------------------------------------------


def test_an_over_long_line_is_malformed_and_the_next_command_is_fine() -> None:
    long_line = b"CWD " + b"x" * 4100 + b"\r\n"
    script = [(C, long_line + b"PWD\r\n"), (S, b"500 Line too long\r\n257 \"/\"\r\n")]
    bad, pwd, too_long, cwd = run(script)
    assert bad.malformed and bad.raw == long_line and bad.size == 4106
    assert bad.summary == "malformed command: line too long (4,106 bytes)"
    assert pwd.summary == "PWD" and not pwd.malformed
    assert str(fields(too_long)["command"]).startswith("malformed command")
    assert fields(cwd)["command"] == "PWD"


def test_a_line_of_exactly_4_kib_is_allowed() -> None:
    line = b"CWD " + b"d" * 4090 + b"\r\n"
    [piece] = run([(C, line)])
    assert len(line) == 4096 and not piece.malformed


def test_a_line_without_end_is_cut_at_the_buffer_limit() -> None:
    endless = b"A" * (MAX_BUFFER * 2 + 10)
    d = FtpDissector()
    pieces = [p for i in range(0, len(endless), 4096) for p in d.feed(C, endless[i:i + 4096], 0.0)]
    assert summaries(pieces) == [
        "malformed command: line too long (65,536 bytes, no end of line yet)",
        "malformed command: line too long (continued, 65,536 more bytes)",
    ]
    [rest, noop] = d.feed(C, b"\r\nNOOP\r\n", now=1.0)
    assert rest.summary == "malformed command: line too long (continued, 12 more bytes)"
    assert noop.summary == "NOOP"


def test_garbage_commands_are_malformed() -> None:
    script = [(C, b"\xff\xfe\x00\r\n"), (C, b"123 go\r\n"), (C, b"\r\n"), (C, b"LI\x07ST\r\n")]
    pieces = run(script)
    assert [p.malformed for p in pieces] == [True] * 4
    assert summaries(pieces) == [
        "malformed command: not a command: ff fe 00",
        'malformed command: not a command: "123 go"',
        "malformed command: empty line",
        "malformed command: not a command: 4c 49 07 53 54",
    ]
    assert [p.raw for p in pieces] == [data for _, data in script]


def test_replies_without_a_code_are_malformed_and_the_next_reply_is_fine() -> None:
    script = [(S, b"hello there\r\n2x0 nope\r\n" + b"211-a\r\n" + b"b" * 5000 + b"\r\n"
                  b"220 ready\r\n")]
    bad, worse, merged, ready = run(script)
    assert bad.summary == 'malformed reply: no 3-digit code: "hello there"'
    assert worse.malformed and worse.raw == b"2x0 nope\r\n"
    assert merged.malformed and merged.raw.startswith(b"211-a\r\nbbb")
    assert merged.summary == "malformed reply: line too long (5,002 bytes)"
    assert ready.summary == "220 ready" and not ready.malformed


# -- close ---------------------------------------------------------------------------


def test_close_flushes_a_half_command_and_a_half_reply() -> None:
    d = FtpDissector()
    run([(C, b"RETR repo"), (S, b"211-Features:\r\n MDTM\r\n SI")], d=d)
    command, reply = d.close(now=5.0)
    assert command.summary == 'incomplete command: "RETR repo"'
    assert command.malformed and command.truncated and command.raw == b"RETR repo"
    assert reply.summary == "incomplete reply: 211 Features:"
    assert reply.raw == b"211-Features:\r\n MDTM\r\n SI" and reply.malformed
    assert d.close(now=6.0) == []


# -- any chunking, any bytes -----------------------------------------------------------

_NAME = st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True).map(str.encode)
_SIMPLE = [
    (b"SYST", b"215 UNIX Type: L8"), (b"PWD", b'257 "/" is the current directory'),
    (b"TYPE I", b"200 Type set to I"), (b"NOOP", b"200 OK"),
    (b"FEAT", FEAT_REPLY[:-2]), (b"HELP", b"214-Commands:\r\n USER PASS\r\n214 End"),
]


@st.composite
def exchange(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """A command and its reply lines (a transfer has a 150 and a 226)."""
    kind = draw(st.sampled_from(["simple", "path", "transfer", "pasv", "port", "rest"]))
    if kind == "simple":
        command, reply = draw(st.sampled_from(_SIMPLE))
        return [(command + b"\r\n", reply + b"\r\n")]
    name = draw(_NAME)
    if kind == "path":
        verb = draw(st.sampled_from([b"CWD", b"DELE", b"MKD", b"RMD", b"SIZE", b"RNFR"]))
        return [(verb + b" " + name + b"\r\n", b"250 OK " + name + b"\r\n")]
    if kind == "transfer":
        verb = draw(st.sampled_from([b"RETR", b"STOR", b"LIST", b"MLSD", b"APPE"]))
        return [(verb + b" " + name + b"\r\n", b"150 Opening\r\n226 Transfer complete\r\n")]
    port = draw(_PORT)
    if kind == "pasv":
        reply = draw(st.sampled_from([format_227("127.0.0.1", port), format_229(port)]))
        return [(b"PASV\r\n", reply)]
    if kind == "port":
        command = draw(st.sampled_from([format_port("127.0.0.1", port),
                                        format_eprt("127.0.0.1", port)]))
        return [(command, b"200 Command okay\r\n")]
    return [(b"REST %d\r\n" % port, b"350 Restarting\r\n")]


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[Sender, bytes]]:
    talk: list[tuple[Sender, bytes]] = [
        (S, GREETING), (C, b"USER student\r\n"), (S, b"331 Password\r\n"),
        (C, b"PASS lab\r\n"), (S, b"230 Logged in\r\n"),
    ]
    pairs = [pair for _ in range(draw(st.integers(1, 6))) for pair in draw(exchange())]
    if draw(st.booleans()):  # pipelined
        talk += [(C, b"".join(c for c, _ in pairs)), (S, b"".join(r for _, r in pairs))]
    else:
        talk += [step for c, r in pairs for step in ((C, c), (S, r))]
    return talk + [(C, b"QUIT\r\n"), (S, b"221 Goodbye\r\n")]


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def converse(talk: Script, cut: st.DataObject | None) -> list[Piece]:
    d = FtpDissector()
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
    commands = [p for p in whole if p.sender is C]
    assert len(commands) == sent(talk, C).count(b"\r\n")
    finals = [p for p in whole if p.sender is S and not 100 <= int(fields(p)["code"] or 0) < 200]
    assert [fields(p).get("command") for p in finals] == [None, *summaries(commands)]
    assert converse(talk, data) == whole


@settings(max_examples=30, deadline=None)
@given(conversations())
def test_byte_by_byte_gives_the_same_pieces(talk: list[tuple[Sender, bytes]]) -> None:
    d = FtpDissector()
    pieces: list[Piece] = []
    for i, (sender, data) in enumerate(talk):
        for n in range(len(data)):
            pieces += d.feed(sender, data[n : n + 1], now=float(i))
    assert pieces + d.close(now=float(len(talk))) == converse(talk, None)


_FRAGMENTS = [
    GREETING, FEAT_REPLY, b"211-x\r\n", b"211 y\r\n", b"PASS x\r\n", b"PASV\r\n",
    b"227 (1,2,3,4,5,6)\r\n", b"229 (|||1|)\r\n", b"PORT 1,2,3,4,5,6\r\n", b"EPRT |1|h|1|\r\n",
    b"AUTH TLS\r\n", b"234 go\r\n", b"150 go\r\n", b"\r\n",
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


@given(st.one_of(st.binary(max_size=80), st.text(max_size=80)))
def test_parse_data_address_never_raises(line: bytes | str) -> None:
    found = parse_data_address(line)
    assert found is None or 0 <= found[1] <= 65535


# -- ftp-data ------------------------------------------------------------------------

LISTING = b"".join(
    b"-rw-r--r--   1 student  lab  %5d Mar  4 10:%02d file%02d.txt\r\n" % (n * 100, n, n)
    for n in range(11)
) + b"drwxr-xr-x   2 student  lab   4096 Mar  4 10:00 docs\r\n"
MLSD = (
    b"type=cdir;modify=20260304100000; .\r\n"
    b"type=file;size=340;modify=20260304100000; up.txt\r\n"
    b"type=dir;modify=20260304100000; docs\r\n"
)


def transfer(sender: Sender, data: bytes, chunk: int = 1000) -> list[Piece]:
    d = FtpDataDissector()
    for i in range(0, len(data), chunk):
        assert d.feed(sender, data[i : i + chunk], now=float(i)) == []
    return d.close(now=99.0)


def test_a_listing_download_counts_its_entries() -> None:
    [piece] = transfer(S, LISTING)
    assert piece.summary == f"data: {len(LISTING):,} bytes, listing: 12 entries"
    assert piece.fields == (
        ("direction", "download"), ("length", len(LISTING)), ("entries", 12),
        ("preview", LISTING.decode()),
    )
    assert piece.raw == LISTING and piece.sender is S and piece.time == 99.0
    assert not piece.truncated and not piece.malformed


def test_an_mlsd_listing_leaves_out_the_directory_itself() -> None:
    [piece] = transfer(S, MLSD)
    assert piece.summary.endswith(", listing: 2 entries") and fields(piece)["entries"] == 2


def test_binary_and_plain_text_are_just_data() -> None:
    binary = bytes(range(256)) * 4
    [down] = transfer(S, binary)
    assert down.summary == "data: 1,024 bytes"
    assert down.fields[:2] == (("direction", "download"), ("length", 1024))
    assert "entries" not in fields(down)
    assert str(fields(down)["preview"]).startswith("00 01 02")
    [up] = transfer(C, b"hello\r\nworld\r\n")
    assert up.summary == "data: 14 bytes" and fields(up)["direction"] == "upload"
    [one] = transfer(C, b"x")
    assert one.summary == "data: 1 byte"


def test_each_direction_is_one_piece_and_an_empty_connection_none() -> None:
    d = FtpDataDissector()
    d.feed(S, b"abc", now=0.0)
    d.feed(C, b"de", now=0.0)
    d.feed(S, b"f", now=1.0)
    up, down = d.close(now=2.0)
    assert (up.raw, down.raw) == (b"de", b"abcf")
    assert d.close(now=3.0) == []
    assert FtpDataDissector().close(now=0.0) == []


def test_a_5_mb_transfer_keeps_a_prefix_its_true_size_and_bounded_memory() -> None:
    block = bytes(range(256)) * 256
    d = FtpDataDissector()
    tracemalloc.start()
    try:
        for _ in range(80):
            d.feed(S, block, now=1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [piece] = d.close(now=2.0)
    assert piece.size == 80 * len(block) > 5_000_000
    assert piece.summary == "data: 5,242,880 bytes"
    assert piece.truncated and piece.raw == (block * 2)[:RAW_LIMIT]
    assert peak < 4 * RAW_LIMIT


def test_a_long_listing_is_counted_on_its_prefix() -> None:
    listing = LISTING * 1000
    [piece] = transfer(S, listing, chunk=65536)
    entries = fields(piece)["entries"]
    assert isinstance(entries, int) and 0 < entries < 12_000
    assert piece.summary.endswith(f"listing: {entries:,}+ entries")


@pytest.mark.parametrize(
    ("command", "size", "prefix", "summary"),
    [
        ("RETR report.pdf", 1_234_567, b"%PDF-1.7\n\xe2\xe3", "RETR report.pdf: 1.2 MB"),
        ("STOR up.txt", 340, b"x" * 340, "STOR up.txt: 340 bytes"),
        ("APPE log.txt", 1, b"x", "APPE log.txt: 1 byte"),
        ("RETR big.iso", 4_700_000_000, b"\x00" * 10, "RETR big.iso: 4.7 GB"),
        ("LIST", len(LISTING), LISTING, "LIST: 12 entries"),
        ("LIST docs", 48, b"total 1\r\n-rw-r--r-- 1 a b 0 Mar  4 10:00 x.txt\r\n",
         "LIST docs: 1 entry"),
        ("NLST", 16, b"a.txt\r\nb.txt\r\nc\r\n", "NLST: 3 names"),
        ("MLSD", 2, b"\r\n", "MLSD: 0 entries"),
        ("MLSD", len(MLSD), MLSD, "MLSD: 2 entries"),
        ("LIST", 10_000, LISTING, "LIST: 12+ entries"),
        ("LIST", 3, b"\xff\x00\x01", "LIST: 3 bytes"),
        ("", 2048, b"", "data: 2.0 kB"),
    ],
)
def test_summarise_transfer(command: str, size: int, prefix: bytes, summary: str) -> None:
    assert summarise_transfer(command, size, prefix) == summary


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 bytes"), (999, "999 bytes"), (1000, "1.0 kB"), (999_999, "1.0 MB"),
     (1_234_567, "1.2 MB"), (10**15, "1,000.0 TB")],
)
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Sender)), st.binary(max_size=200)), max_size=10),
       st.text(max_size=20))
def test_ftp_data_never_raises_and_counts_every_byte(
    script: list[tuple[Sender, bytes]], command: str
) -> None:
    d = FtpDataDissector()
    for sender, data in script:
        assert d.feed(sender, data, now=0.0) == []
    pieces = d.close(now=1.0)
    for piece in pieces:
        assert piece.raw == sent(script, piece.sender) and piece.size == len(piece.raw)
        assert "\n" not in piece.summary
        assert summarise_transfer(command, piece.size, piece.raw)
    assert {p.sender for p in pieces} == {who for who, data in script if data}
