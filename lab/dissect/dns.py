"""The DNS dissector: queries and responses, parsed with dnspython's wire parser.

Two forms share the parsing: "dns" for UDP, where every ``feed`` is one whole
datagram, and "dns-tcp" for TCP, where each message comes after a 2-byte length
(RFC 1035 4.2.2) and chunks may split anywhere. Fields start with ``id`` (the
pairing reads it: a response answers the query with the same id), then the
header (``kind``, ``opcode``, ``flags``, ``aa``, ``tc``, ``rd``, ``ra``,
``rcode``), the ``question``, how many records each section has and the first
records of each as text (``answer 1``…), ``edns`` when there is an OPT record, and
``cookie`` when it carries a DNS cookie (RFC 7873).

An ordinary message is read by lab/dissect/dns_fast.py, with the same result at
a tenth of the cost; dnspython reads the rest.

What dnspython cannot parse (random bytes, a header cut short, a compression
pointer that loops) is a malformed Piece with its reason; the TCP form reads
the next message after it, since the length prefix still says where it ends.
``feed`` and ``close`` never raise.
"""

from __future__ import annotations

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset

from lab.dissect import dns_fast
from lab.dissect.base import register
from lab.model import RAW_LIMIT, FieldValue, Piece, Sender

#: Records of each section listed in the fields; the rest are counted.
SHOWN_RECORDS = 20
#: Answer values named in a response's summary.
SUMMARY_VALUES = 3
#: Characters of one value in a summary (a long TXT is cut).
VALUE_LIMIT = 60
#: The smallest message: the 12-byte header.
HEADER_SIZE = 12

FieldList = list[tuple[str, FieldValue]]


def _name(name: dns.name.Name) -> str:
    return str(name.to_text(omit_final_dot=True)) or "."


def why(exc: Exception) -> str:
    """A user's sentence for what dnspython found wrong."""
    if isinstance(exc, dns.message.ShortHeader):
        return "shorter than the 12-byte DNS header"
    if isinstance(exc, dns.name.BadPointer):
        return "a compression pointer loops or points forward"
    if isinstance(exc, dns.message.TrailingJunk):
        return "extra bytes after the last record"
    if isinstance(exc, dns.exception.FormError):
        return "the counts in the header do not match the records (cut short?)"
    text = str(exc) or type(exc).__name__
    return text[0].lower() + text[1:].rstrip(".")


def _noun(sender: Sender) -> str:
    return "query" if sender is Sender.CLIENT else "response"


def _section(label: str, rrsets: list[dns.rrset.RRset]) -> FieldList:
    lines = [line for rrset in rrsets for line in rrset.to_text().splitlines()]
    fields: FieldList = [(f"{label} {i}", line)
                         for i, line in enumerate(lines[:SHOWN_RECORDS], start=1)]
    if len(lines) > SHOWN_RECORDS:
        fields.append((f"{label} …", f"{len(lines) - SHOWN_RECORDS} more"))
    return fields


def _edns(message: dns.message.Message) -> FieldList:
    if message.edns < 0:
        return []
    dnssec = "on" if message.ednsflags & dns.flags.DO else "off"
    text = f"version {message.edns}, UDP payload {message.payload} bytes, DNSSEC OK {dnssec}"
    options = ", ".join(dns.edns.OptionType.to_text(o.otype) for o in message.options)
    return [("edns", text + (f", options: {options}" if options else ""))]


def _cookie(message: dns.message.Message) -> FieldList:
    """The COOKIE option (RFC 7873 §4): the client's cookie, and the server's if sent."""
    for option in message.options:
        if isinstance(option, dns.edns.CookieOption):
            text = f"client {option.client.hex()}"
            return [("cookie", text + (f", server {option.server.hex()}" if option.server
                                       else ", no server cookie yet"))]
    return []


def _question(message: dns.message.Message) -> tuple[str, str]:
    """(type, name) of the first question, or ("", "") when there is none."""
    if not message.question:
        return "", ""
    first = message.question[0]
    return dns.rdatatype.to_text(first.rdtype), _name(first.name)


def _answers(message: dns.message.Message, rdtype: str) -> str:
    values: list[str] = []
    for rrset in message.answer:
        own = dns.rdatatype.to_text(rrset.rdtype)
        for rdata in rrset:
            text = rdata.to_text().rstrip(".")
            text = text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT - 1] + "…"
            values.append(text if own == rdtype else f"{own} {text}")
    if not values:
        return "" if message.flags & dns.flags.TC else "(no records)"
    more = len(values) - SUMMARY_VALUES
    shown = ", ".join(values[:SUMMARY_VALUES])
    return f"→ {shown}" + (f" +{more} more" if more > 0 else "")


def summary(message: dns.message.Message) -> str:
    """``Query 0x1a2b A www.lab.test?`` or ``Response 0x1a2b NOERROR A … → 127.0.0.1``."""
    opcode = dns.opcode.to_text(message.opcode())
    rdtype, name = _question(message)
    asked = f"{rdtype} {name}" if name else "(no question)"
    response = bool(message.flags & dns.flags.QR)
    noun = ("Response" if response else "Query") if opcode == "QUERY" else (
        f"{opcode} {'response' if response else 'request'}")
    if not response:
        return f"{noun} 0x{message.id:04x} {asked}" + ("?" if name else "")
    rcode = dns.rcode.to_text(message.rcode())
    text = f"{noun} 0x{message.id:04x} {rcode} {asked}"
    answers = _answers(message, rdtype) if rcode == "NOERROR" else ""
    text += f" {answers}" if answers else ""
    if message.flags & dns.flags.TC:
        text += " (truncated, TC)"
    return text


def message_fields(message: dns.message.Message) -> FieldList:
    flags = message.flags
    rdtype, name = _question(message)
    fields: FieldList = [
        ("id", message.id),
        ("kind", "response" if flags & dns.flags.QR else "query"),
        ("opcode", dns.opcode.to_text(message.opcode())),
        ("flags", dns.flags.to_text(flags).lower() or "(none)"),
        ("aa", bool(flags & dns.flags.AA)),
        ("tc", bool(flags & dns.flags.TC)),
        ("rd", bool(flags & dns.flags.RD)),
        ("ra", bool(flags & dns.flags.RA)),
        ("rcode", dns.rcode.to_text(message.rcode())),
        ("question", f"{name} IN {rdtype}" if name else "(none)"),
        ("answers", sum(len(r) for r in message.answer)),
        ("authority records", sum(len(r) for r in message.authority)),
        ("additional records", sum(len(r) for r in message.additional)),
    ]
    fields += _section("answer", message.answer)
    fields += _section("authority", message.authority)
    fields += _section("additional", message.additional)
    return fields + _edns(message) + _cookie(message)


def dissect(sender: Sender, wire: bytes, now: float, *, raw: bytes | None = None) -> Piece:
    """One DNS message as a Piece. ``raw``: the bytes as they crossed (the TCP form's
    include the length prefix), ``wire`` by default."""
    raw = wire if raw is None else raw
    kept = raw[:RAW_LIMIT]
    fast = dns_fast.read(wire, shown=SHOWN_RECORDS, values=SUMMARY_VALUES,
                         value_limit=VALUE_LIMIT)
    if fast is not None:  # an ordinary message, read without dnspython's objects
        return Piece(sender=sender, time=now, summary=fast[0], raw=kept, size=len(raw),
                     fields=tuple(fast[1]), truncated=len(raw) > RAW_LIMIT)
    try:
        message = dns.message.from_wire(wire)
    except Exception as exc:  # dnspython raises many kinds on garbage; none may escape
        reason = why(exc)
        fields: FieldList = []
        if len(wire) >= 2:  # the id is readable: a FORMERR reply will carry it
            fields.append(("id", int.from_bytes(wire[:2], "big")))
        fields += [("error", reason), ("length", len(wire))]
        return Piece(sender=sender, time=now, summary=f"malformed {_noun(sender)}: {reason}",
                     raw=kept, size=len(raw), fields=tuple(fields),
                     truncated=len(raw) > RAW_LIMIT, malformed=True)
    return Piece(sender=sender, time=now, summary=summary(message), raw=kept, size=len(raw),
                 fields=tuple(message_fields(message)), truncated=len(raw) > RAW_LIMIT)


class DnsDissector:
    """DNS over UDP: every datagram is one message."""

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        return [dissect(sender, data, now)]

    def close(self, now: float) -> list[Piece]:
        return []


class DnsTcpDissector:
    """DNS over TCP: 2-byte length, then the message; any chunking, both directions."""

    def __init__(self) -> None:
        self._buffers: dict[Sender, bytearray] = {Sender.CLIENT: bytearray(),
                                                  Sender.SERVER: bytearray()}

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        buffer = self._buffers[sender]
        buffer += data  # bounded: never more than one message (≤ 65,537 bytes) waits
        out: list[Piece] = []
        while len(buffer) >= 2:
            length = int.from_bytes(buffer[:2], "big")
            if len(buffer) < 2 + length:
                break
            framed = bytes(buffer[:2 + length])
            del buffer[:2 + length]
            out.append(dissect(sender, framed[2:], now, raw=framed))
        return out

    def close(self, now: float) -> list[Piece]:
        out: list[Piece] = []
        for sender, buffer in self._buffers.items():
            if not buffer:
                continue
            need = int.from_bytes(buffer[:2], "big") if len(buffer) >= 2 else None
            got = max(len(buffer) - 2, 0)
            reason = ("connection ended inside the 2-byte length" if need is None else
                      f"connection ended after {got} of the message's {need} bytes")
            raw = bytes(buffer)
            out.append(Piece(sender=sender, time=now,
                             summary=f"malformed {_noun(sender)}: {reason}", raw=raw,
                             size=len(raw), fields=(("error", reason), ("length", len(raw))),
                             malformed=True))
            buffer.clear()
        return out


register("dns", DnsDissector)
register("dns-tcp", DnsTcpDissector)
