"""The DNS server's zone without sockets: editing with clear errors, and the answers."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from lab.servers.dns_zone import Record, Zone, ZoneError


def ask(zone: Zone, name: str, rdtype: str = "A") -> dns.message.Message:
    return zone.answer(dns.message.make_query(name, rdtype))


def answer_text(message: dns.message.Message) -> list[str]:
    return [line for rrset in message.answer for line in rrset.to_text().splitlines()]


def test_the_default_zone_answers_www_and_chases_the_cname() -> None:
    zone = Zone.default()
    www = ask(zone, "www.lab.test")
    assert answer_text(www) == ["www.lab.test. 300 IN A 127.0.0.1"]
    assert www.flags & dns.flags.AA and www.rcode() == dns.rcode.NOERROR
    assert answer_text(ask(zone, "web.lab.test")) == [
        "web.lab.test. 300 IN CNAME www.lab.test.", "www.lab.test. 300 IN A 127.0.0.1"]
    mx = ask(zone, "lab.test", "MX")
    assert answer_text(mx) == ["lab.test. 300 IN MX 10 mail.lab.test."]
    assert mx.additional[0].to_text() == "mail.lab.test. 300 IN A 127.0.0.1"  # its address too


def test_negative_answers() -> None:
    zone = Zone.default()
    missing = ask(zone, "nope.lab.test")
    assert missing.rcode() == dns.rcode.NXDOMAIN and not missing.answer
    assert missing.authority[0].to_text().startswith("lab.test. 300 IN SOA ns.lab.test.")
    nodata = ask(zone, "www.lab.test", "MX")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer and nodata.authority
    outside = ask(zone, "www.example.com")
    assert outside.rcode() == dns.rcode.REFUSED and not outside.flags & dns.flags.AA
    assert ask(zone, "lab.test", "AXFR").rcode() == dns.rcode.REFUSED
    update = dns.message.make_query("lab.test", "SOA")
    update.set_opcode(dns.opcode.NOTIFY)
    assert zone.answer(update).rcode() == dns.rcode.NOTIMP


def test_adding_and_removing_records_bumps_the_serial_and_tells_watchers() -> None:
    zone = Zone.default()
    seen: list[list[Record]] = []
    stop = zone.watch(seen.append)
    added = zone.add("shop", "a", "127.0.0.5", 60)
    assert added == Record("shop.lab.test", "A", "127.0.0.5", 60)
    assert answer_text(ask(zone, "shop.lab.test")) == ["shop.lab.test. 60 IN A 127.0.0.5"]
    assert zone.add("shop.lab.test.", "TXT", 'say "hi"').value == '"say \\"hi\\""'
    assert zone.remove("shop.lab.test", "A", "127.0.0.5") == added
    assert ask(zone, "shop.lab.test").rcode() == dns.rcode.NOERROR  # it still has a TXT
    assert len(seen) == 3 and added not in seen[-1]
    assert zone.records()[0].type == "SOA" and " 4 3600 " in zone.records()[0].value
    stop()
    zone.add("after", "A", "127.0.0.6")
    assert len(seen) == 3


def test_a_broken_watcher_neither_fails_the_edit_nor_stops_the_others(
        caplog: pytest.LogCaptureFixture) -> None:
    zone = Zone.default()

    def broken(records: list[Record]) -> None:
        raise RuntimeError("watcher bug")

    seen: list[list[Record]] = []
    zone.watch(broken)
    zone.watch(seen.append)
    added = zone.add("shop", "A", "127.0.0.5")  # does not raise
    assert added in zone.records() and seen and added in seen[-1]
    zone.remove("shop", "A", "127.0.0.5")
    assert len(seen) == 2 and added not in zone.records()
    assert [r.message for r in caplog.records].count(
        f"a zone listener failed after serial {zone.serial - 1}") == 1
    assert "watcher bug" in caplog.text


@pytest.mark.parametrize(("name", "rdtype", "value", "ttl", "message"), [
    ("www.example.com", "A", "127.0.0.1", 300, "outside the zone lab.test"),
    (" ", "A", "127.0.0.1", 300, "no name: type one such as shop"),
    ("x", "A", "300.1.2.3", 300, "'300.1.2.3' is not a valid A value: expected an IPv4"),
    ("x", "AAAA", "127.0.0.1", 300, "not a valid AAAA value"),
    ("x", "MX", "mail.lab.test", 300, "expected a preference and a host name"),
    ("x", "SRV", "0 0 80 www", 300, "type SRV is not offered here"),
    ("x", "A", "127.0.0.1", -1, "TTL -1 is out of range"),
    ("www", "A", "127.0.0.1", 300, "www.lab.test A 127.0.0.1 is already in the zone"),
    ("www", "CNAME", "mail", 300, "www.lab.test already has records"),
    ("web", "A", "127.0.0.1", 300, "web.lab.test is an alias (CNAME)"),
    ("@", "CNAME", "www", 300, "lab.test already has records"),
])
def test_bad_records_are_refused_with_a_reason(name: str, rdtype: str, value: str, ttl: int,
                                               message: str) -> None:
    zone = Zone.default()
    before = zone.records()
    with pytest.raises(ZoneError, match=message.replace("(", r"\(").replace(")", r"\)")):
        zone.add(name, rdtype, value, ttl)
    assert zone.records() == before


def test_removing_what_is_not_there_or_the_soa_is_refused() -> None:
    zone = Zone.default()
    with pytest.raises(ZoneError, match="is not in the zone"):
        zone.remove("www", "A", "127.0.0.9")
    with pytest.raises(ZoneError, match="SOA record belongs to the zone"):
        zone.remove("@", "SOA", "whatever")


def test_names_with_dots_are_absolute_and_long_text_is_split() -> None:
    zone = Zone.default()
    assert zone.add("alias", "CNAME", "mail.lab.test").value == "mail.lab.test."
    assert zone.add("out", "CNAME", "example.com").value == "example.com."
    chased = ask(zone, "out.lab.test")  # a CNAME out of the zone: the asker follows it
    assert answer_text(chased) == ["out.lab.test. 300 IN CNAME example.com."]
    assert chased.rcode() == dns.rcode.NOERROR and not chased.authority
    text = zone.add("long", "TXT", "é" * 200).value
    assert text.count('" "') == 1  # two strings, each under 255 bytes


def test_a_cname_loop_ends() -> None:
    zone = Zone()
    zone.add("a", "CNAME", "b")
    zone.add("b", "CNAME", "a")
    looped = ask(zone, "a.lab.test")
    assert [r.rdtype for r in looped.answer] == [dns.rdatatype.CNAME] * 2


def test_the_zone_reads_back_what_it_wrote() -> None:
    zone = Zone.default()
    zone.add("shop", "MX", "5 mail")
    again = Zone.from_text(zone.to_text())
    assert again.records() == zone.records() and again.serial == zone.serial
    with pytest.raises(ZoneError, match="SOA"):
        Zone.from_text("www.lab.test. 300 IN A 127.0.0.1\n")


def test_any_is_answered_minimally_when_asked_so_and_whole_otherwise() -> None:
    zone = Zone.default()
    whole = ask(zone, "lab.test", "ANY")  # as over TCP
    assert {rrset.rdtype for rrset in whole.answer} == {
        dns.rdatatype.SOA, dns.rdatatype.NS, dns.rdatatype.MX, dns.rdatatype.TXT}

    def minimal(name: str) -> dns.message.Message:
        return zone.answer(dns.message.make_query(name, "ANY"), minimal_any=True)

    # RFC 8482 §4.2: one synthesized HINFO record, CPU "RFC8482", OS empty
    assert answer_text(minimal("lab.test")) == ['lab.test. 300 IN HINFO "RFC8482" ""']
    assert answer_text(minimal("www.lab.test")) == ['www.lab.test. 300 IN HINFO "RFC8482" ""']
    assert minimal("www.lab.test").flags & dns.flags.AA
    assert answer_text(minimal("web.lab.test")) == ["web.lab.test. 300 IN CNAME www.lab.test."]
    assert minimal("nope.lab.test").rcode() == dns.rcode.NXDOMAIN
    zone.add("a.b.lab.test", "A", "127.0.0.5")
    empty = minimal("b.lab.test")  # a name with records only below it: no data
    assert empty.rcode() == dns.rcode.NOERROR and not empty.answer and empty.authority
    assert minimal("example.com").rcode() == dns.rcode.REFUSED
