"""What keeps a shared DNS server from being used to flood someone else (reflection).

A UDP query's source address is not checked by anyone: a student can send queries
"from" a classmate's address, and every answer goes to the classmate. An answer
many times larger than its query (a long TXT record, ANY) makes that an amplifier.
So, for a client on another machine (``peers.remote``; the teacher's own machine is
answered as before), over UDP:

- **Response rate limiting** (RRL, as BIND, Knot and NSD do it): the same answer
  (same name and type, or any "no such name", or any error) goes to one address
  (one machine: for IPv6 its /64) at most RATE times a second after a burst of
  BURST. BIND counts per /24, but a whole class shares one /24: counted so, thirty
  students looking up one name at once would be limited as one.
  Over the rate, every SLIP-th answer is a truncated reply (TC set, no records: a
  real client asks again over TCP, which cannot be forged) and the rest are dropped;
  each drop is noted in the capture ("Server dropped the answer: …").
- **No answer larger than its query** to an address that has not shown it is real
  (and at most RATE_LARGER such answers a second, whatever their kind, to one that
  asked over TCP; none larger than OUR_PAYLOAD to anyone):
  such an answer is replaced by a TC reply no larger than the query (its header,
  its question and an OPT record if it had one), so the client asks over TCP. An
  address is real for VERIFIED_FOR seconds after it asked over TCP (the handshake
  proves the address), or for a query that carries a valid server cookie (RFC 7873,
  lab/servers/dns_cookies.py); such a query is not rate limited either.
- **Cookies**: a query with a COOKIE option gets the server cookie in the answer when
  the answer is allowed (always over TCP); a wrong or stale server cookie over UDP
  is answered BADCOOKIE with a fresh one (RFC 7873 §5.2.4), when that reply is no
  larger than the query, else with a TC reply.

Each refusal is counted (``Refusals``, shown in the server's panel): OVER_RATE for
a dropped answer, TRUNCATED for a TC reply in place of an answer, BAD_COOKIES.
ANY is answered minimally over UDP for everyone (RFC 8482: lab/servers/dns_zone.py).
"""

from __future__ import annotations

import enum
import ipaddress
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import dns.flags
import dns.message
import dns.rcode

from lab import peers
from lab.servers.dns_cookies import Cookies, client_cookie, with_cookie
from lab.servers.guard import Refusals

#: Answers a second of one kind to one client, after a burst of BURST.
RATE = 5.0
BURST = 10.0
#: Over the rate, one answer in SLIP is a TC reply; the others are dropped.
SLIP = 2
#: Prefix lengths counted as one client (BIND's defaults are 24 and 56).
IPV4_PREFIX = 32
IPV6_PREFIX = 64
#: Seconds an address counts as real after it asked over TCP.
VERIFIED_FOR = 600.0
#: Networks (and addresses) remembered at most; the least recently seen go first.
KEPT = 4096
#: The payload size the server offers in its EDNS answers, and the largest UDP answer
#: it sends to another machine, whatever the query offers.
OUR_PAYLOAD = 1232
#: Answers larger than their query, a second to one address that has not shown a
#: cookie (whatever their kind: a spoofer cycling names and types would otherwise
#: find a fresh bucket each time), after a burst of BURST_LARGER.
RATE_LARGER = 20.0
BURST_LARGER = 40.0

#: The reasons counted (the panel names them so).
OVER_RATE = "answers over the rate limit"
TRUNCATED = "answers truncated"
BAD_COOKIES = "bad cookies (BADCOOKIE)"


class Verdict(enum.Enum):
    ANSWER = "answer"
    SLIP = "slip"  # a TC reply instead
    DROP = "drop"


def network(host: str) -> str:
    """What ``host`` is counted as: its address (``10.200.3.2``), or for IPv6 its /64
    (``fd00:1:2:3::/64``): the prefix lengths above, written without a whole one."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host
    length = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    if length == address.max_prefixlen:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False))


class _Bucket:
    __slots__ = ("last", "over", "tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.last = now
        self.over = 0


class RateLimiter:
    """A token bucket per (client address or network, kind of answer): ``check`` says
    what to send."""

    def __init__(self, rate: float = RATE, burst: float = BURST, slip: int = SLIP,
                 clock: Callable[[], float] = time.monotonic, kept: int = KEPT) -> None:
        self.rate, self.burst, self.slip = rate, burst, slip
        self._clock = clock
        self._kept = kept
        self._buckets: dict[tuple[str, Hashable], _Bucket] = {}

    def check(self, host: str, kind: Hashable) -> Verdict:
        """Answer, slip (a TC reply) or drop one more answer of ``kind`` to ``host``."""
        now = self._clock()
        key = (network(host), kind)
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            while len(self._buckets) >= self._kept:
                del self._buckets[next(iter(self._buckets))]  # the least recently seen
            bucket = _Bucket(self.burst, now)
        self._buckets[key] = bucket  # now the most recently seen
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.last) * self.rate)
        bucket.last = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.over = 0
            return Verdict.ANSWER
        bucket.over += 1
        return Verdict.SLIP if self.slip and bucket.over % self.slip == 0 else Verdict.DROP

    def __len__(self) -> int:
        return len(self._buckets)


class Verified:
    """Addresses that asked over TCP in the last VERIFIED_FOR seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 keep: float = VERIFIED_FOR, kept: int = KEPT) -> None:
        self._clock = clock
        self._keep = keep
        self._kept = kept
        self._hosts: dict[str, float] = {}

    def seen(self, host: str) -> None:
        self._hosts.pop(host, None)
        while len(self._hosts) >= self._kept:
            del self._hosts[next(iter(self._hosts))]
        self._hosts[host] = self._clock()

    def real(self, host: str) -> bool:
        when = self._hosts.get(host)
        return when is not None and self._clock() - when <= self._keep


def kind_of(response: dns.message.Message) -> Hashable:
    """What makes two answers "the same" for the rate limit: the question for an
    answer with no error, one kind for every NXDOMAIN, one for every other error."""
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR and response.question:
        first = response.question[0]
        if not response.answer:  # the name has no records of that type: one kind per
            return ("nodata", first.name)  # name, or 65,536 types make as many buckets
        return ("answer", first.name, first.rdtype)
    return ("nxdomain",) if rcode == dns.rcode.NXDOMAIN else ("error",)


def truncated(query: dns.message.Message, size: int) -> bytes:
    """An empty reply with TC set: header, the question and an OPT record if the query
    had one (no options), never more than ``size`` (the query's) bytes."""
    reply = dns.message.make_response(query, our_payload=OUR_PAYLOAD)
    reply.flags |= dns.flags.TC
    wire = reply.to_wire()
    if len(wire) <= size:
        return wire
    return bare_truncated(query.id, query.flags)


def bare_truncated(ident: int, flags: int) -> bytes:
    """A 12-byte reply with TC set and no sections."""
    flags = dns.flags.QR | dns.flags.TC | (flags & (dns.flags.RD | 0x7800))
    return ident.to_bytes(2, "big") + flags.to_bytes(2, "big") + bytes(8)


class DnsGuard:
    """The rate limiter, the verified addresses and the cookies of one DNS server."""

    def __init__(self, refusals: Refusals, *, clock: Callable[[], float] = time.monotonic,
                 cookies: Cookies | None = None) -> None:
        self.refusals = refusals
        self.limiter = RateLimiter(clock=clock)
        self.larger = RateLimiter(rate=RATE_LARGER, burst=BURST_LARGER, clock=clock)
        self.verified = Verified(clock=clock)
        self.cookies = cookies if cookies is not None else Cookies()

    def limit(self, peer: Sequence[Any], kind: Hashable) -> Verdict:
        """The rate limit's verdict on an answer to ``peer``; a drop is counted and
        noted in the capture, a slip counted (its TC reply is captured as sent)."""
        host = peers.client_host(peer)
        verdict = self.limiter.check(host, kind)
        if verdict is Verdict.DROP:
            self.refusals.count(OVER_RATE)
            peers.note(peer, f"Server dropped the answer: over the rate limit, more than "
                             f"{RATE:g} a second of the same answer to {network(host)} "
                             "(response rate limiting)")
        elif verdict is Verdict.SLIP:
            self.refusals.count(TRUNCATED)
        return verdict

    def udp(self, query: dns.message.Message, response: dns.message.Message,
            size: int, peer: Sequence[Any], limit: int) -> bytes | None:
        """The bytes to send over UDP for ``response`` to ``query`` (``size`` bytes)
        from ``peer`` on another machine, or None (dropped). ``limit``: the largest
        answer the query accepts."""
        host = peers.client_host(peer)
        option = client_cookie(query)
        proven = False
        if option is not None and option.server:
            proven = self.cookies.valid(option.client, option.server, host)
            if not proven:  # RFC 7873 §5.2.4: BADCOOKIE, with the right server cookie
                response = dns.message.make_response(query, our_payload=OUR_PAYLOAD)
                response.set_rcode(dns.rcode.BADCOOKIE)
        if not proven:
            verdict = self.limit(peer, kind_of(response))
            if verdict is Verdict.DROP:
                return None
            if verdict is Verdict.SLIP:
                return truncated(query, size)
        if option is not None:
            with_cookie(response, self.cookies.answer_cookie(option, host))
        wire = response.to_wire(max_size=min(limit, OUR_PAYLOAD), prefer_truncation=True)
        if len(wire) > size and not proven and (
                not self.verified.real(host)
                or self.larger.check(host, "larger") is not Verdict.ANSWER):
            self.refusals.count(TRUNCATED)  # it might not be who it says: ask over TCP
            return truncated(query, size)
        if response.rcode() == dns.rcode.BADCOOKIE:
            self.refusals.count(BAD_COOKIES)
        return wire

    def tcp(self, query: dns.message.Message, response: dns.message.Message,
            peer: Sequence[Any]) -> None:
        """A query over TCP from ``peer`` on another machine: its address is real (the
        handshake showed it), and a COOKIE in the query gets the server cookie back."""
        host = peers.client_host(peer)
        self.verified.seen(host)
        option = client_cookie(query)
        if option is not None:
            with_cookie(response, self.cookies.answer_cookie(option, host))
