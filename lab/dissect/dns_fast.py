"""The DNS dissector's fast path: the common message read straight from its bytes.

dnspython builds objects for every name, record and set and spends ~200 µs on a
small answer; the Wire dissects every message as it crosses. So an ordinary
message (opcode QUERY, one question, class IN, records of the types below, at
most an OPT record without options) is read here, and its summary and fields
made the way lab/dissect/dns.py makes them from dnspython's objects, character
for character. Anything else, and anything dnspython might read differently or
refuse (a pointer that does not point back, a label that needs escaping, a
record set whose records repeat, a truncated message, bytes left over), returns
None and dnspython reads it: the fast path never decides what is malformed.
"""

from __future__ import annotations

import struct

import dns.flags
import dns.ipv6
import dns.rcode

from lab.model import FieldValue

FieldList = list[tuple[str, FieldValue]]

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, OPT = 1, 2, 5, 6, 12, 15, 16, 28, 41
_TYPES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", MX: "MX",
          TXT: "TXT", AAAA: "AAAA"}
#: Types of which dnspython keeps one record per set (a second replaces the first).
_SINGLETONS = {CNAME, SOA}
#: Label bytes dnspython writes as they are (the rest it escapes).
_PLAIN = frozenset(c for c in range(0x21, 0x7F) if c not in b'"().;\\@$')
#: TXT bytes dnspython writes as they are.
_PLAIN_TXT = frozenset(c for c in range(0x20, 0x7F) if c not in b'"\\')
_MAX_HOPS = 16
#: Header bits as plain ints (dnspython's flag enums cost a microsecond an operation).
QR, AA, TC, RD, RA, DO = (int(f) for f in (dns.flags.QR, dns.flags.AA, dns.flags.TC,
                                          dns.flags.RD, dns.flags.RA, dns.flags.DO))
#: The bits dns.flags.to_text writes (QR AA TC RD RA Z AD CD; Z as "flag6").
_FLAG_BITS = 0x87F0
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")

_flag_texts: dict[int, str] = {}
_rcode_texts: dict[int, str] = {}


class _Unusual(Exception):
    """Not for the fast path: dnspython reads it."""


def _name(wire: bytes, at: int, end: int) -> tuple[str, bytes, int]:
    """The name at ``at`` (not past ``end``): its text with the final dot, its
    lower-cased wire form (for comparing), and where what follows it begins."""
    labels: list[bytes] = []
    size = 1
    biggest = start = at
    after = -1
    hops = 0
    while True:
        if at >= end:
            raise _Unusual
        count = wire[at]
        if count == 0:
            at += 1
            break
        if count < 64:
            label = wire[at + 1:at + 1 + count]
            if at + 1 + count > end or not _PLAIN.issuperset(label):
                raise _Unusual
            labels.append(label)
            size += count + 1
            at += 1 + count
        elif count >= 192 and at + 2 <= end:
            target = (count & 0x3F) * 256 + wire[at + 1]
            hops += 1
            if target >= biggest or hops > _MAX_HOPS:
                raise _Unusual
            if after < 0:
                after = at + 2
            biggest, end, at = target, start, target
            start = target
        else:
            raise _Unusual
    if size > 255:
        raise _Unusual
    if after < 0:  # no pointer: what follows comes after the final zero
        after = at
    if not labels:
        return ".", b"", after
    text = b".".join(labels).decode("ascii") + "."
    return text, text.lower().encode("ascii"), after


def _rdata(wire: bytes, rdtype: int, at: int, end: int) -> str:
    """The text of one record's data (``at`` to ``end``), as dnspython writes it."""
    if rdtype == A:
        if end - at != 4:
            raise _Unusual
        return "%d.%d.%d.%d" % tuple(wire[at:end])  # noqa: UP031 (the fastest here)
    if rdtype == AAAA:
        if end - at != 16:
            raise _Unusual
        return str(dns.ipv6.inet_ntoa(wire[at:end]))
    if rdtype in (NS, CNAME, PTR):
        text, _, at = _name(wire, at, end)
    elif rdtype == MX:
        if end - at < 3:
            raise _Unusual
        exchange, _, stop = _name(wire, at + 2, end)
        text, at = f"{int.from_bytes(wire[at:at + 2], 'big')} {exchange}", stop
    elif rdtype == SOA:
        mname, _, at = _name(wire, at, end)
        rname, _, at = _name(wire, at, end)
        if end - at != 20:
            raise _Unusual
        numbers = [int.from_bytes(wire[at + i:at + i + 4], "big") for i in range(0, 20, 4)]
        text, at = " ".join([mname, rname, *map(str, numbers)]), end
    else:  # TXT
        strings = []
        while at < end:
            count = wire[at]
            chunk = wire[at + 1:at + 1 + count]
            if at + 1 + count > end or not _PLAIN_TXT.issuperset(chunk):
                raise _Unusual
            strings.append(f'"{chunk.decode("ascii")}"')
            at += 1 + count
        if not strings:
            raise _Unusual
        text = " ".join(strings)
    if at != end:
        raise _Unusual
    return text


class _Set:
    """One record set as dnspython keeps it: name, type, the lowest TTL, the records."""

    __slots__ = ("datas", "keys", "name", "rdtype", "ttl")

    def __init__(self, name: str, rdtype: int, ttl: int) -> None:
        self.name, self.rdtype, self.ttl = name, rdtype, ttl
        self.datas: list[str] = []
        self.keys: set[bytes] = set()

    def lines(self) -> list[str]:
        kind = _TYPES[self.rdtype]
        return [f"{self.name} {self.ttl} IN {kind} {data}" for data in self.datas]


def _section(wire: bytes, at: int, count: int, *, additional: bool = False,
             ) -> tuple[list[_Set], int, int | None, int]:
    """``count`` records from ``at``: their sets in order, where the section ends, and
    an OPT record's payload and flags (None, 0 when there is none)."""
    sets: dict[tuple[bytes, int], _Set] = {}
    opt: int | None = None
    ednsflags = 0
    size = len(wire)
    for _ in range(count):
        name, key, at = _name(wire, at, size)
        if at + 10 > size:
            raise _Unusual
        rdtype, rdclass, ttl, rdlen = _RR.unpack_from(wire, at)
        at += 10
        end = at + rdlen
        if end > size:
            raise _Unusual
        if rdtype == OPT:
            if not additional or opt is not None or key or rdlen:
                raise _Unusual
            opt, ednsflags = rdclass, ttl
            continue
        if rdclass != 1 or rdtype not in _TYPES:
            raise _Unusual
        data = _rdata(wire, rdtype, at, end)
        found = sets.get((key, rdtype))
        if found is None:
            found = sets[(key, rdtype)] = _Set(name, rdtype, 0 if ttl > 0x7FFFFFFF else ttl)
        elif rdtype in _SINGLETONS:
            raise _Unusual
        else:
            found.ttl = min(found.ttl, 0 if ttl > 0x7FFFFFFF else ttl)
        digest = wire[at:end].lower() if rdtype in (A, AAAA, TXT) \
            else data.lower().encode("ascii")  # names compare without case
        if digest in found.keys:
            raise _Unusual  # dnspython keeps one of equal records: let it
        found.keys.add(digest)
        found.datas.append(data)
        at = end
    return list(sets.values()), at, opt, ednsflags


def _listed(label: str, sets: list[_Set], limit: int) -> FieldList:
    lines = [line for one in sets for line in one.lines()]
    fields: FieldList = [(f"{label} {i}", line)
                         for i, line in enumerate(lines[:limit], start=1)]
    if len(lines) > limit:
        fields.append((f"{label} …", f"{len(lines) - limit} more"))
    return fields


def _answers(sets: list[_Set], rdtype: str, value_limit: int, shown: int) -> str:
    values: list[str] = []
    for one in sets:
        own = _TYPES[one.rdtype]
        for data in one.datas:
            text = data.rstrip(".")
            text = text if len(text) <= value_limit else text[:value_limit - 1] + "…"
            values.append(text if own == rdtype else f"{own} {text}")
    if not values:
        return "(no records)"
    more = len(values) - shown
    return f"→ {', '.join(values[:shown])}" + (f" +{more} more" if more > 0 else "")


def _flags_text(flags: int) -> str:
    flags &= _FLAG_BITS  # the cache stays small whatever comes
    text = _flag_texts.get(flags)
    if text is None:
        text = _flag_texts[flags] = dns.flags.to_text(flags).lower() or "(none)"
    return text


def _rcode_text(rcode: int) -> str:
    text = _rcode_texts.get(rcode)
    if text is None:
        text = _rcode_texts[rcode] = dns.rcode.to_text(dns.rcode.Rcode.make(rcode))
    return text


def read(wire: bytes, *, shown: int, values: int, value_limit: int,
         ) -> tuple[str, FieldList] | None:
    """The summary and fields of an ordinary message, or None: dnspython reads it."""
    if len(wire) < 12:
        return None
    ident, flags, *counts = _HEADER.unpack_from(wire)
    if flags & 0x7800 or flags & TC or counts[0] != 1:
        return None  # not QUERY, truncated, not one question
    try:
        qname, _, at = _name(wire, 12, len(wire))
        if at + 4 > len(wire):
            return None
        qtype = int.from_bytes(wire[at:at + 2], "big")
        if qtype not in _TYPES:
            return None
        answer, at, _, _ = _section(wire, at + 4, counts[1])
        authority, at, _, _ = _section(wire, at, counts[2])
        additional, at, payload, ednsflags = _section(wire, at, counts[3], additional=True)
    except Exception:  # _Unusual, or anything unforeseen: dnspython decides
        return None
    if at != len(wire) or ednsflags & 0xFF000000:
        return None  # bytes left over; an extended rcode
    rdtype = _TYPES[qtype]
    name = qname[:-1] if qname != "." else "."
    response = bool(flags & QR)
    rcode = _rcode_text(flags & 0xF)
    asked = f"{rdtype} {name}"
    if response:
        summary = f"Response 0x{ident:04x} {rcode} {asked}"
        if rcode == "NOERROR":
            summary += " " + _answers(answer, rdtype, value_limit, values)
    else:
        summary = f"Query 0x{ident:04x} {asked}?"
    fields: FieldList = [
        ("id", ident), ("kind", "response" if response else "query"), ("opcode", "QUERY"),
        ("flags", _flags_text(flags)), ("aa", bool(flags & AA)),
        ("tc", False), ("rd", bool(flags & RD)), ("ra", bool(flags & RA)),
        ("rcode", rcode), ("question", f"{name} IN {rdtype}"),
        ("answers", sum(len(s.datas) for s in answer)),
        ("authority records", sum(len(s.datas) for s in authority)),
        ("additional records", sum(len(s.datas) for s in additional)),
    ]
    fields += _listed("answer", answer, shown)
    fields += _listed("authority", authority, shown)
    fields += _listed("additional", additional, shown)
    if payload is not None:
        dnssec = "on" if ednsflags & DO else "off"
        fields.append(("edns", f"version {(ednsflags & 0xFF0000) >> 16}, UDP payload "
                               f"{payload} bytes, DNSSEC OK {dnssec}"))
    return summary, fields
