"""The shared DNS server's guard without a network: the rate limiter, the addresses shown
real, server cookies and the bytes ``guarded_reply`` sends, on a fake clock, for a client
the Wire says is on another machine (lab/peers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from lab import peers
from lab.servers.dns import guarded_reply, reply_to
from lab.servers.dns_cookies import LIFETIME, RENEW_AFTER, Cookies, client_cookie
from lab.servers.dns_guard import (
    BAD_COOKIES,
    BURST,
    BURST_LARGER,
    OUR_PAYLOAD,
    OVER_RATE,
    RATE,
    TRUNCATED,
    VERIFIED_FOR,
    DnsGuard,
    RateLimiter,
    Verdict,
    Verified,
    kind_of,
    network,
)
from lab.servers.dns_zone import Zone
from lab.servers.guard import Refusals

STUDENT = "10.200.7.2"
CLIENT = b"\x01\x02\x03\x04\x05\x06\x07\x08"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def notes() -> Iterator[list[str]]:
    """The Wire's socket 127.0.0.1:40001 stands for STUDENT:5353; its notes land here."""
    seen: list[str] = []
    peers.register(("127.0.0.1", 40001), peers.Peer(STUDENT, 5353, seen.append))
    yield seen
    peers.forget(("127.0.0.1", 40001))


PEER = ("127.0.0.1", 40001)


def query(name: str = "big.lab.test", rdtype: str = "TXT", *, edns: int = 0,
          cookie: bytes | None = None, server: bytes = b"") -> bytes:
    options = [dns.edns.CookieOption(cookie, server)] if cookie is not None else []
    return dns.message.make_query(name, rdtype, use_edns=edns, payload=4096,
                                  options=options).to_wire()


def ask(zone: Zone, guard: DnsGuard, data: bytes, *, tcp: bool = False) -> bytes | None:
    return guarded_reply(zone, guard, data, PEER, tcp)


# ---- the parts ---------------------------------------------------------------------------

def test_the_rate_limiter_answers_a_burst_then_slips_every_second_and_drops_the_rest() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    verdicts = [limiter.check(STUDENT, "big") for _ in range(int(BURST) + 10)]
    assert verdicts[:int(BURST)] == [Verdict.ANSWER] * int(BURST)
    assert verdicts[int(BURST):] == [Verdict.DROP, Verdict.SLIP] * 5
    # another answer, another network: counted apart
    assert limiter.check(STUDENT, "www") is Verdict.ANSWER
    assert limiter.check("10.200.8.2", "big") is Verdict.ANSWER
    # another machine of the same network is counted apart (a class shares a /24)
    assert limiter.check("10.200.7.99", "big") is Verdict.ANSWER
    clock.now += 1.0  # a second refills RATE answers
    assert [limiter.check(STUDENT, "big") for _ in range(int(RATE))] == [Verdict.ANSWER] * 5
    assert limiter.check(STUDENT, "big") is not Verdict.ANSWER


def test_the_rate_limiter_keeps_at_most_its_buckets_and_forgets_the_oldest() -> None:
    limiter = RateLimiter(clock=Clock(), kept=3)
    for n in range(5):
        limiter.check(f"10.200.{n}.1", "x")
    assert len(limiter) == 3


def test_a_client_is_its_ipv4_address_or_its_ipv6_slash_64() -> None:
    assert network("10.200.7.2") == "10.200.7.2"
    assert network("fd00:1:2:3:4::1") == "fd00:1:2:3::/64"
    assert network("not-an-address") == "not-an-address"


def test_an_address_is_real_for_ten_minutes_after_a_tcp_query() -> None:
    clock = Clock()
    verified = Verified(clock=clock)
    assert not verified.real(STUDENT)
    verified.seen(STUDENT)
    clock.now += VERIFIED_FOR - 1
    assert verified.real(STUDENT) and not verified.real("10.200.7.3")
    clock.now += 2
    assert not verified.real(STUDENT)


def test_a_server_cookie_is_bound_to_the_client_cookie_the_address_and_an_hour() -> None:
    clock = Clock()
    cookies = Cookies(clock=clock)
    server = cookies.make(CLIENT, STUDENT)
    assert len(server) == 16 and server[0] == 1 and server[1:4] == bytes(3)
    assert cookies.valid(CLIENT, server, STUDENT)
    assert not cookies.valid(CLIENT, server, "10.200.7.3")  # forged from another address
    assert not cookies.valid(b"\x09" * 8, server, STUDENT)  # another client cookie
    assert not cookies.valid(CLIENT, server[:-1] + bytes([server[-1] ^ 1]), STUDENT)
    assert not Cookies(clock=clock).valid(CLIENT, server, STUDENT)  # another secret
    clock.now += LIFETIME + 1
    assert not cookies.valid(CLIENT, server, STUDENT)


def test_an_answer_renews_a_server_cookie_only_once_it_is_half_an_hour_old() -> None:
    clock = Clock()
    cookies = Cookies(clock=clock)
    server = cookies.make(CLIENT, STUDENT)
    assert cookies.answer_cookie(dns.edns.CookieOption(CLIENT, server), STUDENT).server == server
    clock.now += RENEW_AFTER + 1
    fresh = cookies.answer_cookie(dns.edns.CookieOption(CLIENT, server), STUDENT).server
    assert fresh != server and cookies.valid(CLIENT, fresh, STUDENT)


# ---- what is sent ------------------------------------------------------------------------

def parsed(data: bytes | None) -> dns.message.Message:
    assert data is not None
    return dns.message.from_wire(data)


def test_a_big_answer_to_an_unproven_address_is_a_tc_reply_no_larger_than_the_query(
        notes: list[str]) -> None:
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    data = query()
    sent = ask(zone, guard, data)
    reply = parsed(sent)
    assert sent is not None and len(sent) <= len(data)
    assert reply.flags & dns.flags.TC and not reply.answer and reply.edns == 0
    assert reply.question == dns.message.from_wire(data).question
    assert refusals.view() == ((TRUNCATED, 1),)
    assert len(reply_to(zone, data, None) or b"") > 10 * len(data)  # unguarded: 19.8 times


def test_after_a_tcp_query_the_address_gets_the_whole_answer_over_udp(
        notes: list[str]) -> None:
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    over_tcp = parsed(ask(zone, guard, query("lab.test", "ANY"), tcp=True))
    assert {rrset.rdtype for rrset in over_tcp.answer} >= {dns.rdatatype.SOA, dns.rdatatype.NS}
    reply = parsed(ask(zone, guard, query()))
    assert not reply.flags & dns.flags.TC and reply.answer
    assert refusals.view() == ()


def test_an_address_that_asked_over_tcp_gets_few_large_answers_a_second_of_any_kind(
        notes: list[str]) -> None:
    """A spoofer sending "from" a student who once retried over TCP, cycling names and
    types so each is a fresh bucket, still gets at most BURST_LARGER large answers."""
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    ask(zone, guard, query("www.lab.test", "A"), tcp=True)
    names = [f"{kind}.lab.test" for kind in ("big", "www", "lab")] * 30
    sent = [ask(zone, guard, query(name, rdtype, edns=4096))
            for name in names for rdtype in ("TXT", "A")]
    large = [data for data in sent if data is not None
             and not parsed(data).flags & dns.flags.TC]
    assert 0 < len(large) <= BURST_LARGER < len(sent) / 2


def test_no_udp_answer_to_another_machine_is_larger_than_the_payload_the_server_offers(
        notes: list[str]) -> None:
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    for n in range(20):  # long records: more than 1232 bytes, less than the 4096 offered
        zone.add("huge", "TXT", f"record {n} " + "x" * 100)
    ask(zone, guard, query("www.lab.test", "A"), tcp=True)
    sent = ask(zone, guard, query("huge.lab.test", "TXT", edns=4096))
    assert sent is not None and len(sent) <= OUR_PAYLOAD
    assert len(ask(zone, guard, query("huge.lab.test", "TXT"), tcp=True) or b"") > OUR_PAYLOAD


def test_empty_answers_of_any_type_for_one_name_are_one_kind() -> None:
    zone = Zone.default()
    kinds = {kind_of(zone.answer(dns.message.make_query("www.lab.test", rdtype)))
             for rdtype in ("TXT", "MX", "CAA", "TYPE65000")}
    assert len(kinds) == 1


def test_any_over_udp_is_one_hinfo_record_for_everyone() -> None:
    zone = Zone.default()
    for edns in (-1, 0):
        reply = parsed(reply_to(zone, query("lab.test", "ANY", edns=edns), None))
        assert [rrset.to_text() for rrset in reply.answer] == [
            'lab.test. 300 IN HINFO "RFC8482" ""']
    assert parsed(reply_to(zone, query("web.lab.test", "ANY"), None)).answer[0].rdtype \
        == dns.rdatatype.CNAME  # an alias answers with its CNAME (RFC 8482 §4.2)
    assert parsed(reply_to(zone, query("nope.lab.test", "ANY"), None)).rcode() \
        == dns.rcode.NXDOMAIN
    whole = parsed(reply_to(zone, query("lab.test", "ANY"), 65535))  # over TCP
    assert len(whole.answer) >= 4


def test_over_the_rate_answers_are_dropped_with_a_note_or_sent_as_tc(
        notes: list[str]) -> None:
    zone, refusals, clock = Zone.default(), Refusals(), Clock()
    guard = DnsGuard(refusals, clock=clock)
    data = query("www.lab.test", "A")
    guard.verified.seen(STUDENT)  # even a proven address is rate limited
    sent = [ask(zone, guard, data) for _ in range(30)]
    answered = [s for s in sent if s is not None and not parsed(s).flags & dns.flags.TC]
    slipped = [s for s in sent if s is not None and parsed(s).flags & dns.flags.TC]
    assert len(answered) == BURST and len(slipped) == 10 and sent.count(None) == 10
    assert all(len(s) <= len(data) for s in slipped)
    assert dict(refusals.view()) == {OVER_RATE: 10, TRUNCATED: 10}
    assert len(notes) == 10
    assert notes[0].startswith("Server dropped the answer: over the rate limit")
    assert notes[0].endswith("to 10.200.7.2 (response rate limiting)")
    # another name is another answer: served
    assert parsed(ask(zone, guard, query("mail.lab.test", "A"))).answer
    clock.now += 1.0
    assert not parsed(ask(zone, guard, data)).flags & dns.flags.TC


def test_the_cookie_path_tcp_gives_the_server_cookie_and_udp_with_it_gets_everything(
        notes: list[str]) -> None:
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    first = parsed(ask(zone, guard, query(cookie=CLIENT), tcp=True))
    option = client_cookie(first)
    assert option is not None and option.client == CLIENT and len(option.server) == 16
    guard.verified = Verified(clock=Clock())  # forget the TCP query: only the cookie counts
    for _ in range(int(BURST) * 3):  # and a proven cookie is not rate limited
        reply = parsed(ask(zone, guard, query(cookie=CLIENT, server=option.server)))
        assert reply.answer and not reply.flags & dns.flags.TC
        echoed = client_cookie(reply)
        assert echoed is not None and echoed.server == option.server
    assert refusals.view() == ()


def test_a_wrong_server_cookie_over_udp_gets_badcookie_with_the_right_one(
        notes: list[str]) -> None:
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    data = query("www.lab.test", "A", cookie=CLIENT, server=b"\x01" + bytes(23))
    sent = ask(zone, guard, data)
    reply = parsed(sent)
    assert sent is not None and len(sent) <= len(data)
    assert reply.rcode() == dns.rcode.BADCOOKIE and not reply.answer
    option = client_cookie(reply)
    assert option is not None and guard.cookies.valid(CLIENT, option.server, STUDENT)
    assert refusals.view() == ((BAD_COOKIES, 1),)
    # a short wrong cookie would make BADCOOKIE larger than the query: a TC reply then
    short = query("www.lab.test", "A", cookie=CLIENT, server=bytes(8))
    small = ask(zone, guard, short)
    assert small is not None and len(small) <= len(short)
    assert parsed(small).flags & dns.flags.TC
    # the right one: answered
    good = parsed(ask(zone, guard, query("www.lab.test", "A", cookie=CLIENT,
                                         server=option.server)))
    assert good.rcode() == dns.rcode.NOERROR and good.answer


def test_a_client_cookie_alone_gets_the_server_cookie_only_where_the_answer_is_allowed(
        notes: list[str]) -> None:
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    data = query(cookie=CLIENT)
    tc = parsed(ask(zone, guard, data))
    assert tc.flags & dns.flags.TC and client_cookie(tc) is None
    guard.verified.seen(STUDENT)
    whole = parsed(ask(zone, guard, data))
    assert whole.answer and client_cookie(whole) is not None


def test_unreadable_queries_are_rate_limited_too_and_never_answered_larger(
        notes: list[str]) -> None:
    zone, refusals = Zone.default(), Refusals()
    guard = DnsGuard(refusals, clock=Clock())
    junk = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05"  # a question cut short
    sent = [ask(zone, guard, junk) for _ in range(20)]
    assert all(s is None or len(s) <= len(junk) for s in sent)
    assert parsed(sent[0]).rcode() == dns.rcode.FORMERR
    assert sent.count(None) == 5 and dict(refusals.view())[OVER_RATE] == 5
    assert ask(zone, guard, junk, tcp=True) is not None  # TCP is never limited
    assert ask(zone, guard, b"\x00" * 5) is None


def test_a_client_on_this_machine_is_answered_as_before() -> None:
    zone = Zone.default()
    data = query()
    assert reply_to(zone, data, None) == reply_to(zone, data, None)
    assert not peers.remote(("127.0.0.1", 40002))
    assert len(reply_to(zone, data, None) or b"") == 810
