"""DNS cookies (RFC 7873, server cookies as RFC 9018 lays them out): how a client on
another machine shows the DNS server that it is really at its address.

A client puts an 8-byte client cookie in the COOKIE option of its query (EDNS, RFC
7873 §4). The server answers with its own server cookie next to it: 16 bytes made
from the client cookie and the client's IP address under a secret only the server
knows (made when it starts). A client that sends that server cookie back got the
server's answer at that address, so it is not someone forging the address: the
server may then send it answers larger than its query over UDP (lab/servers/dns_guard.py).

The server cookie is laid out as RFC 9018 §4 says: version 1, three reserved bytes,
a 4-byte timestamp (seconds), and an 8-byte hash of (client cookie, version,
reserved, timestamp, client IP). RFC 9018 hashes with SipHash-2-4 so that the
servers of one anycast address agree; this lone server uses HMAC-SHA-256 cut to
8 bytes, which RFC 7873 §4.2 leaves to the server. A server cookie is good for an
hour (RFC 9018 §4.3) and is made afresh in answers once half an hour old.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import time
from collections.abc import Callable

import dns.edns
import dns.message

#: The server cookie's version byte (RFC 9018 §4.2).
VERSION = 1
#: Seconds a server cookie is accepted after it was made (RFC 9018 §4.3)…
LIFETIME = 3600
#: …and after which the server gives a fresh one in its answers.
RENEW_AFTER = 1800
#: How far in the future a timestamp may be (another server's clock: RFC 9018 §4.3).
FUTURE_SLACK = 300


def client_cookie(query: dns.message.Message) -> dns.edns.CookieOption | None:
    """The query's COOKIE option, or None (dnspython refuses a malformed one while
    parsing, and the server says FORMERR, as RFC 7873 §5.2.2 asks)."""
    for option in query.options:
        if isinstance(option, dns.edns.CookieOption):
            return option
    return None


class Cookies:
    """Makes and checks server cookies under a secret made at start."""

    def __init__(self, secret: bytes | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._secret = secret if secret is not None else os.urandom(32)
        self._clock = clock

    def _hash(self, client: bytes, head: bytes, host: str) -> bytes:
        address = ipaddress.ip_address(host.partition("%")[0]).packed
        return hmac.new(self._secret, client + head + address, hashlib.sha256).digest()[:8]

    def make(self, client: bytes, host: str, stamp: int | None = None) -> bytes:
        """The 16-byte server cookie for ``client`` (8 bytes) at address ``host``."""
        when = int(self._clock()) if stamp is None else stamp
        head = bytes([VERSION, 0, 0, 0]) + (when & 0xFFFFFFFF).to_bytes(4, "big")
        return head + self._hash(client, head, host)

    def _age(self, server: bytes) -> int:
        """Seconds since ``server`` was made, by serial-number arithmetic (RFC 1982)."""
        stamp = int.from_bytes(server[4:8], "big")
        return ((int(self._clock()) - stamp + 2**31) % 2**32) - 2**31

    def valid(self, client: bytes, server: bytes, host: str) -> bool:
        """Whether ``server`` is a server cookie this server made for ``client`` at
        ``host`` less than LIFETIME seconds ago."""
        if len(client) != 8 or len(server) != 16 or server[0] != VERSION:
            return False
        try:
            right = self._hash(client, server[:8], host)
        except ValueError:  # not an IP address: no cookie can be right
            return False
        return hmac.compare_digest(right, server[8:]) and -FUTURE_SLACK <= self._age(
            server) <= LIFETIME

    def answer_cookie(self, option: dns.edns.CookieOption, host: str) -> dns.edns.CookieOption:
        """The COOKIE option for an answer to ``option``: the client cookie and the
        server cookie it sent when that is still good and young, else a fresh one."""
        server = option.server
        if not (self.valid(option.client, server, host) and self._age(server) < RENEW_AFTER):
            server = self.make(option.client, host)
        return dns.edns.CookieOption(option.client, server)


def with_cookie(response: dns.message.Message, cookie: dns.edns.CookieOption) -> None:
    """Put ``cookie`` in ``response``'s OPT record (keeping its flags and extended rcode)."""
    if response.edns != 0:
        return  # no EDNS (or BADVERS): nowhere for a cookie
    response.use_edns(0, response.ednsflags, response.payload, response.request_payload,
                      options=[*response.options, cookie], pad=response.pad)
