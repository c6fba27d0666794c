"""The DNS server's zone: the records a user edits, and the answers they give.

No I/O here: ``Zone.answer`` turns a parsed query into a response (dnspython
messages), the server module sizes and sends it. The zone is one origin
(``lab.test`` by default) with an SOA whose serial counts the edits; records of
types A, AAAA, CNAME, MX, TXT and NS may be added and removed, each checked with
dnspython's own parser, and ``ZoneError`` says in a sentence what is wrong.
ANY over UDP is answered with one synthesized HINFO record (RFC 8482 §4.2).
``to_text``/``from_text`` keep a zone as master-file lines, which is how it
survives a restart of its server (see :mod:`lab.servers.dns`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

DEFAULT_ORIGIN = "lab.test"
DEFAULT_TTL = 300
MAX_TTL = 2**31 - 1
EDITABLE = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")
#: CNAMEs followed for one answer (a loop stops here too).
CHAIN_LIMIT = 8
IN = dns.rdataclass.IN
log = logging.getLogger(__name__)
SOA_TIMERS = "3600 600 86400 60"  # refresh, retry, expire, negative-answer TTL
#: The one record answering ANY over UDP (RFC 8482 §4.2: CPU "RFC8482", OS empty).
ANY_HINFO = dns.rdata.from_text(IN, dns.rdatatype.HINFO, '"RFC8482" ""')

#: What a good value of each type looks like, for error messages.
HINTS = {
    "A": "an IPv4 address such as 127.0.0.1",
    "AAAA": "an IPv6 address such as ::1",
    "CNAME": "a host name such as www.lab.test",
    "NS": "a host name such as ns.lab.test",
    "MX": "a preference and a host name such as 10 mail.lab.test",
    "TXT": "any text",
}

BIG_TEXT = ("This answer is longer than 512 bytes, so over UDP without EDNS the server "
            "sends it cut short with the TC flag set, and the client asks again over TCP. ")
DEFAULT_RECORDS = (
    ("@", "NS", "ns"), ("@", "MX", "10 mail"),
    ("@", "TXT", "Client-Server Lab zone: edit it in the DNS server panel"),
    ("ns", "A", "127.0.0.1"), ("www", "A", "127.0.0.1"), ("www", "AAAA", "::1"),
    ("mail", "A", "127.0.0.1"), ("web", "CNAME", "www"), ("big", "TXT", BIG_TEXT * 5),
)


class ZoneError(ValueError):
    """A record the zone cannot take (or does not have); the message says why."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record as the panel shows it: ``www.lab.test  A  127.0.0.1  300``."""

    name: str  # without the final dot
    type: str
    value: str  # as dnspython writes it (names end with a dot)
    ttl: int


Listener = Callable[[list[Record]], None]


@dataclass(frozen=True, slots=True)
class _Entry:
    name: dns.name.Name
    rdata: dns.rdata.Rdata
    ttl: int

    @property
    def rdtype(self) -> dns.rdatatype.RdataType:
        return dns.rdatatype.RdataType.make(self.rdata.rdtype)


class Zone:
    """The records of one origin. Edit with ``add``/``remove``; ``watch`` for changes."""

    def __init__(self, origin: str = DEFAULT_ORIGIN, serial: int = 1) -> None:
        self.origin = dns.name.from_text(origin)
        self.serial = serial
        self._entries: list[_Entry] = []
        self._listeners: list[Listener] = []

    @classmethod
    def default(cls) -> Zone:
        zone = cls()
        for name, rdtype, value in DEFAULT_RECORDS:
            zone._entries.append(zone._entry(name, rdtype, value, DEFAULT_TTL))
        return zone

    # ---- reading ----------------------------------------------------------------

    def _soa(self) -> dns.rdata.Rdata:
        text = f"ns.{self.origin} hostmaster.{self.origin} {self.serial} {SOA_TIMERS}"
        return dns.rdata.from_text(IN, dns.rdatatype.SOA, text)

    def records(self) -> list[Record]:
        """Every record, the SOA first, then by name."""
        soa = _Entry(self.origin, self._soa(), DEFAULT_TTL)
        ordered = sorted(self._entries, key=lambda e: (e.name, EDITABLE.index(
            dns.rdatatype.to_text(e.rdtype))))
        return [_record(e) for e in (soa, *ordered)]

    def to_text(self) -> str:
        """Master-file lines, one per record; ``from_text`` reads them back."""
        return "".join(f"{r.name}. {r.ttl} IN {r.type} {r.value}\n" for r in self.records())

    @classmethod
    def from_text(cls, text: str) -> Zone:
        """The zone ``to_text`` wrote; ZoneError names the line that is wrong."""
        lines = [line.split(None, 4) for line in text.splitlines()
                 if line.strip() and not line.lstrip().startswith(";")]
        soa = next((parts for parts in lines if len(parts) == 5 and parts[3] == "SOA"), None)
        if soa is None:
            raise ZoneError("a zone needs its SOA line")
        zone = cls(soa[0].rstrip("."), int(soa[4].split()[2]))
        for parts in lines:
            if parts is not soa:
                if len(parts) != 5 or not parts[1].isdigit():
                    raise ZoneError(f"bad zone line: {' '.join(parts)}")
                zone._entries.append(zone._entry(parts[0], parts[3], parts[4], int(parts[1])))
        return zone

    # ---- editing ----------------------------------------------------------------

    def watch(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(records)`` after each change; returns the unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def add(self, name: str, rdtype: str, value: str, ttl: int = DEFAULT_TTL) -> Record:
        entry = self._entry(name, rdtype, value, ttl)
        same = [e for e in self._entries if e.name == entry.name]
        shown = _name(entry.name)
        if any(e.rdata == entry.rdata for e in same):
            raise ZoneError(f"{shown} {entry.rdata.rdtype.name} {entry.rdata} is already in "
                            "the zone")
        cname = dns.rdatatype.CNAME
        if entry.rdtype == cname and (same or entry.name == self.origin):
            raise ZoneError(f"{shown} already has records: a name with a CNAME can have no "
                            "other records (RFC 1034), so remove them first")
        if entry.rdtype != cname and any(e.rdtype == cname for e in same):
            raise ZoneError(f"{shown} is an alias (CNAME): it can have no other records "
                            "(RFC 1034); remove the CNAME first")
        self._entries.append(entry)
        self._changed()
        return _record(entry)

    def remove(self, name: str, rdtype: str, value: str) -> Record:
        if rdtype.strip().upper() == "SOA":
            raise ZoneError("the SOA record belongs to the zone itself and cannot be removed")
        wanted = self._entry(name, rdtype, value, DEFAULT_TTL)
        for entry in self._entries:
            if entry.name == wanted.name and entry.rdata == wanted.rdata:
                self._entries.remove(entry)
                self._changed()
                return _record(entry)
        raise ZoneError(f"{_name(wanted.name)} {rdtype.upper()} {value} is not in the zone")

    def _changed(self) -> None:
        self.serial += 1
        records = self.records()
        for listener in tuple(self._listeners):
            try:
                listener(records)
            except Exception:  # a watcher's bug must not undo an edit already made
                log.exception("a zone listener failed after serial %d", self.serial)

    def _entry(self, name: str, rdtype: str, value: str, ttl: int) -> _Entry:
        kind = rdtype.strip().upper()
        if kind not in EDITABLE:
            raise ZoneError(f"type {kind or '(none)'} is not offered here: choose one of "
                            f"{', '.join(EDITABLE)}")
        if not 0 <= ttl <= MAX_TTL:
            raise ZoneError(f"TTL {ttl} is out of range: seconds from 0 to {MAX_TTL}")
        owner = self.name(name)
        try:
            rdata = dns.rdata.from_text(IN, kind, _value_text(kind, value.strip()),
                                        origin=self.origin, relativize=False)
        except (dns.exception.DNSException, ValueError) as exc:
            detail = str(exc).rstrip(".")
            raise ZoneError(f"{value.strip() or '(empty)'!r} is not a valid {kind} value: "
                            f"expected {HINTS[kind]} ({detail})") from None
        return _Entry(owner, rdata, ttl)

    def name(self, text: str) -> dns.name.Name:
        """A name the user typed: ``@`` is the origin, ``www`` is www.<origin>, and a
        name with dots must end with the origin."""
        text = text.strip().rstrip(".").lower()
        origin = _name(self.origin)
        if not text:
            raise ZoneError(f"no name: type one such as shop (shop.{origin}), or @ for "
                            f"{origin} itself")
        try:
            if text in ("@", origin):
                return self.origin
            if "." not in text:
                return dns.name.from_text(text, origin=self.origin)
            name = dns.name.from_text(text + ".")
        except dns.exception.DNSException as exc:
            raise ZoneError(f"{text!r} is not a valid name: {exc}") from None
        if not name.is_subdomain(self.origin):
            raise ZoneError(f"{text} is outside the zone {origin}: this server answers for "
                            f"names ending in .{origin} (type just www for www.{origin})")
        return name

    # ---- answering --------------------------------------------------------------

    def answer(self, query: dns.message.Message, *,
               minimal_any: bool = False) -> dns.message.Message:
        """The response to ``query``, not yet sized for its transport. With
        ``minimal_any`` (over UDP) a question for ANY gets one record (``_any``)."""
        response = dns.message.make_response(query, our_payload=1232)
        if query.edns > 0:  # RFC 6891 6.1.3: say BADVERS, in the version we speak (0)
            response.set_rcode(dns.rcode.BADVERS)
            return response
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        if (question.rdclass != IN or not question.name.is_subdomain(self.origin)
                or question.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR)):
            response.set_rcode(dns.rcode.REFUSED)  # not ours to answer (or transfer)
            return response
        response.flags |= dns.flags.AA
        if minimal_any and question.rdtype == dns.rdatatype.ANY and self._any(
                response, question.name):
            return response
        name, found = self._chase(response, question.name, question.rdtype)
        if not found and name.is_subdomain(self.origin):  # no such name, or no such type
            if not self._exists(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._rrset(self.origin, [
                _Entry(self.origin, self._soa(), DEFAULT_TTL)]))
        self._glue(response)
        return response

    def _any(self, response: dns.message.Message, name: dns.name.Name) -> bool:
        """ANY answered minimally (RFC 8482 §4.2), so it is no amplifier: the CNAME
        of an alias, else one synthesized HINFO record "RFC8482" "" (the whole
        answer goes over TCP). False for a name with no records (answered as usual:
        NXDOMAIN, or no data)."""
        here = self._at(name)
        if not here:
            return False
        cnames = [e for e in here if e.rdtype == dns.rdatatype.CNAME]
        response.answer.append(self._rrset(name, cnames or [_Entry(name, ANY_HINFO, DEFAULT_TTL)]))
        return True

    def _chase(self, response: dns.message.Message, name: dns.name.Name,
               rdtype: dns.rdatatype.RdataType) -> tuple[dns.name.Name, bool]:
        """Fill the answer for ``name``, following CNAMEs in the zone: the last name
        asked about, and whether it had records of ``rdtype``."""
        seen: set[dns.name.Name] = set()
        while name not in seen and len(seen) < CHAIN_LIMIT:
            seen.add(name)
            here = self._at(name)
            cnames = [e for e in here if e.rdtype == dns.rdatatype.CNAME]
            if cnames and rdtype not in (dns.rdatatype.CNAME, dns.rdatatype.ANY):
                response.answer.append(self._rrset(name, cnames))
                name = getattr(cnames[0].rdata, "target", name)
                if not name.is_subdomain(self.origin):
                    return name, True  # the asker's resolver follows it elsewhere
                continue
            kinds = sorted({e.rdtype for e in here if rdtype in (e.rdtype, dns.rdatatype.ANY)})
            for kind in kinds:
                response.answer.append(self._rrset(name, [e for e in here if e.rdtype == kind]))
            return name, bool(kinds)
        return name, False  # a CNAME loop: the chain goes nowhere

    def _at(self, name: dns.name.Name) -> list[_Entry]:
        entries = [e for e in self._entries if e.name == name]
        if name == self.origin:
            entries.insert(0, _Entry(self.origin, self._soa(), DEFAULT_TTL))
        return entries

    def _exists(self, name: dns.name.Name) -> bool:
        """A name with records, or with records below it (an empty non-terminal)."""
        return name == self.origin or any(e.name.is_subdomain(name) for e in self._entries)

    def _glue(self, response: dns.message.Message) -> None:
        """Addresses of the MX and NS hosts named in the answer, when the zone has them."""
        for rrset in list(response.answer):
            for rdata in rrset:
                host = getattr(rdata, "exchange", None) or (
                    getattr(rdata, "target", None) if rrset.rdtype == dns.rdatatype.NS else None)
                if not isinstance(host, dns.name.Name):
                    continue
                for kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    found = [e for e in self._at(host) if e.rdtype == kind]
                    if found and not response.get_rrset(response.additional, host, IN, kind):
                        response.additional.append(self._rrset(host, found))

    @staticmethod
    def _rrset(name: dns.name.Name, entries: Iterable[_Entry]) -> dns.rrset.RRset:
        chosen = list(entries)
        return dns.rrset.from_rdata_list(name, min(e.ttl for e in chosen),
                                         [e.rdata for e in chosen])


def _name(name: dns.name.Name) -> str:
    return str(name.to_text(omit_final_dot=True))


def _record(entry: _Entry) -> Record:
    return Record(_name(entry.name), dns.rdatatype.to_text(entry.rdtype),
                  entry.rdata.to_text(), entry.ttl)


def _value_text(kind: str, value: str) -> str:
    """What the user typed as master-file text: TXT quoted and cut into 255-byte
    strings; host names with dots taken as absolute (``www.lab.test``, not
    www.lab.test.lab.test)."""
    if kind == "TXT":
        if value.startswith('"'):
            return value
        chunks = [""]
        for char in value:  # strings of at most 255 bytes, never splitting a character
            if len((chunks[-1] + char).encode("utf-8")) > 255:
                chunks.append("")
            chunks[-1] += char
        return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"'
                        for c in chunks)
    if kind in ("CNAME", "NS", "MX"):
        parts = value.split()
        if parts and "." in parts[-1] and not parts[-1].endswith("."):
            parts[-1] += "."
        return " ".join(parts)
    return value
