"""The DNS dissector on bytes alone: messages made with dnspython, UDP and TCP forms,
every TCP split point, and the malformed input a server must survive."""

from __future__ import annotations

import random

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import dissect
from lab.dissect.dns import SHOWN_RECORDS, DnsDissector, DnsTcpDissector
from lab.model import Piece, Sender
from tests.lab.dissect_helpers import fields, summaries

C, S = Sender.CLIENT, Sender.SERVER
HEADER = b"\x1a\x2b\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"  # id 0x1a2b, RD, 1 question
#: A question whose name is the label "a" and then a pointer back to itself: a loop.
POINTER_LOOP = HEADER + b"\x01a\xc0\x0c\x00\x01\x00\x01"


def query(name: str = "www.lab.test", rdtype: str = "A", **kwargs: object) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    q.id = 0x1A2B
    return q


def response(q: dns.message.Message, *records: str, rcode: int = 0,
             tc: bool = False) -> dns.message.Message:
    r = dns.message.make_response(q)
    for text in records:
        name, ttl, rdtype, value = text.split(" ", 3)
        r.answer.append(dns.rrset.from_text(name, int(ttl), "IN", rdtype, value))
    r.set_rcode(dns.rcode.Rcode(rcode))
    if tc:
        r.flags |= dns.flags.TC
    return r


def one(sender: Sender, data: bytes) -> Piece:
    [piece] = DnsDissector().feed(sender, data, 0.0)
    return piece


def framed(*messages: dns.message.Message | bytes) -> bytes:
    wires = [m if isinstance(m, bytes) else m.to_wire() for m in messages]
    return b"".join(len(w).to_bytes(2, "big") + w for w in wires)


def test_both_names_are_registered() -> None:
    assert isinstance(dissect.make("dns"), DnsDissector)
    assert isinstance(dissect.make("dns-tcp"), DnsTcpDissector)


def test_a_query_and_its_answer() -> None:
    q = query()
    ask = one(C, q.to_wire())
    assert ask.summary == "Query 0x1a2b A www.lab.test?"
    assert ask.fields[0] == ("id", 0x1A2B)
    assert fields(ask)["kind"] == "query" and fields(ask)["rd"] is True
    assert fields(ask)["question"] == "www.lab.test IN A"
    assert not ask.malformed and ask.raw == q.to_wire() and ask.size == len(q.to_wire())

    r = response(q, "www.lab.test. 300 A 127.0.0.1")
    r.flags |= dns.flags.AA
    answer = one(S, r.to_wire())
    assert answer.summary == "Response 0x1a2b NOERROR A www.lab.test → 127.0.0.1"
    got = fields(answer)
    assert answer.fields[0] == ("id", 0x1A2B)
    assert (got["kind"], got["opcode"], got["rcode"]) == ("response", "QUERY", "NOERROR")
    assert (got["aa"], got["tc"], got["rd"], got["ra"]) == (True, False, True, False)
    assert got["flags"] == "qr aa rd"
    assert got["answers"] == 1 and got["answer 1"] == "www.lab.test. 300 IN A 127.0.0.1"


def test_negative_answers_and_truncation_say_so() -> None:
    q = query("www.nope.lab.test")
    assert one(S, response(q, rcode=dns.rcode.NXDOMAIN).to_wire()).summary == (
        "Response 0x1a2b NXDOMAIN A www.nope.lab.test")
    assert one(S, response(query("example.com"), rcode=dns.rcode.REFUSED).to_wire()).summary \
        == "Response 0x1a2b REFUSED A example.com"
    cut = one(S, response(query("big.lab.test", "TXT"), tc=True).to_wire())
    assert cut.summary == "Response 0x1a2b NOERROR TXT big.lab.test (truncated, TC)"
    assert fields(cut)["tc"] is True
    assert one(S, response(query("www.lab.test", "MX")).to_wire()).summary == (
        "Response 0x1a2b NOERROR MX www.lab.test (no records)")


def test_a_cname_chain_and_many_records() -> None:
    r = response(query("web.lab.test"), "web.lab.test. 300 CNAME www.lab.test.",
                 "www.lab.test. 300 A 127.0.0.1")
    assert one(S, r.to_wire()).summary == (
        "Response 0x1a2b NOERROR A web.lab.test → CNAME www.lab.test, 127.0.0.1")
    many = response(query("many.lab.test"),
                    *(f"many.lab.test. 60 A 192.0.2.{i}" for i in range(1, 31)))
    piece = one(S, many.to_wire())
    assert piece.summary.endswith("→ 192.0.2.1, 192.0.2.2, 192.0.2.3 +27 more")
    got = fields(piece)
    assert got["answers"] == 30
    assert f"answer {SHOWN_RECORDS}" in got and f"answer {SHOWN_RECORDS + 1}" not in got
    assert got["answer …"] == f"{30 - SHOWN_RECORDS} more"


def test_edns_is_shown() -> None:
    ask = one(C, query(use_edns=0, payload=1232).to_wire())
    assert fields(ask)["edns"] == "version 0, UDP payload 1232 bytes, DNSSEC OK off"
    assert "edns" not in fields(one(C, query().to_wire()))


def test_tcp_messages_at_every_split_point() -> None:
    q = query("big.lab.test", "TXT")
    stream = framed(q, response(q, 'big.lab.test. 300 TXT "' + "x" * 200 + '"'))
    whole = DnsTcpDissector().feed(C, stream, 0.0)
    assert summaries(whole)[0] == "Query 0x1a2b TXT big.lab.test?"
    assert summaries(whole)[1].startswith("Response 0x1a2b NOERROR TXT big.lab.test → \"xxx")
    assert b"".join(p.raw for p in whole) == stream  # each keeps its length prefix
    for cut in range(1, len(stream)):
        d = DnsTcpDissector()
        pieces = d.feed(C, stream[:cut], 0.0) + d.feed(C, stream[cut:], 1.0)
        assert summaries(pieces) == summaries(whole), cut
        assert d.close(2.0) == []


def test_tcp_goes_on_after_a_bad_message_and_reports_a_cut_one() -> None:
    d = DnsTcpDissector()
    pieces = d.feed(C, framed(b"\x00\x01garbage!", query()) + b"\x00\x30\x1a", 0.0)
    assert [p.malformed for p in pieces] == [True, False]
    assert pieces[0].fields[0] == ("id", 1)
    assert pieces[1].summary == "Query 0x1a2b A www.lab.test?"
    [cut] = d.close(1.0)
    assert cut.malformed and cut.raw == b"\x00\x30\x1a"
    assert cut.summary == "malformed query: connection ended after 1 of the message's 48 bytes"


def test_malformed_input_becomes_malformed_pieces() -> None:
    short = one(C, HEADER[:5])
    assert short.malformed and short.summary == (
        "malformed query: shorter than the 12-byte DNS header")
    assert short.raw == HEADER[:5]
    loop = one(C, POINTER_LOOP)
    assert loop.malformed and "compression pointer" in loop.summary
    assert loop.fields[0] == ("id", 0x1A2B)  # the id is readable: a FORMERR can be paired
    assert one(S, HEADER).summary.startswith("malformed response: the counts in the header")
    noise = random.Random(6).randbytes(40)
    assert one(C, noise).malformed


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=300))
def test_any_bytes_never_raise(data: bytes, cut: int) -> None:
    assert len(DnsDissector().feed(S, data, 0.0)) == 1
    d = DnsTcpDissector()
    d.feed(C, data[:cut], 0.0)
    d.feed(C, data[cut:], 0.0)
    d.close(0.0)
