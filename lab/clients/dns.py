"""The DNS lookup client, like dig: one question, the whole answer, how long it took.

A query goes over UDP (no EDNS, so answers are held to the classic 512 bytes);
when the answer comes back truncated (TC set) the client asks again over TCP, as
dig does, and says so. Every lookup goes where the engine's router says, so it
is captured even when the server is outside the lab; a server address without a
port means port 53, as in dig. It never raises for what the network or the
server does: the result carries an ``error`` sentence. A UDP server that is not
there refuses the datagram (ICMP port unreachable): the client hears of it from
its socket, or from the outbound Wire it sent through (``Routes.upstream_error``),
and says so at once instead of waiting for the timeout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from lab.clients import Router, Routes, Seen, patience
from lab.dissect.dns import why
from lab.model import Outcome, Transport, format_address, parse_address
from lab.servers.dns import DEFAULT_PORT as LAB_PORT

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

#: Seconds to wait for an answer (per transport).
TIMEOUT = 3.0
#: The port of a server address typed without one (DNS's own, as dig assumes).
DNS_PORT = 53
RUNNING = "is a DNS server running there?"
TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "ANY")


class DnsClientError(Exception):
    """A lookup that got no usable answer; the message says why, for a user."""


@dataclass(frozen=True, slots=True)
class Row:
    """One record of a section, as dig prints it."""

    section: str  # "answer" | "authority" | "additional"
    name: str
    ttl: int
    type: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsResult:
    """What came back for one question, or ``error`` when nothing usable did."""

    name: str
    type: str
    server: str
    id: int = 0
    rcode: str = ""
    flags: tuple[str, ...] = ()  # lower case, as dig shows them: ("qr", "aa", "rd")
    rows: tuple[Row, ...] = ()
    ms: float = 0.0
    size: int = 0  # bytes of the final answer
    tcp: bool = False  # the final answer came over TCP
    retried_tcp: bool = False  # …because the UDP answer had TC set
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def section(self, name: str) -> list[Row]:
        return [row for row in self.rows if row.section == name]

    def addresses(self) -> list[str]:
        """The A and AAAA values of the answer, in order."""
        return [row.value for row in self.section("answer") if row.type in ("A", "AAAA")]


@dataclass(frozen=True, slots=True)
class _Server:
    """The server asked, as typed: ``port_typed`` False means DNS_PORT was assumed."""

    host: str
    port: int
    port_typed: bool = True

    @property
    def where(self) -> str:
        return format_address(self.host, self.port)

    def hint(self, note: str, *, question: bool = False) -> str:
        """`` (note)``. When no port was typed and the host is this machine (a
        student who likely meant the lab's server), where that server listens:
        after the note, or instead of it when the note is only a ``question``."""
        if self.port_typed or not _is_loopback(self.host):
            return f" ({note})"
        lab = (f"the lab's DNS server listens on {LAB_PORT}: try "
               f"{format_address(self.host, LAB_PORT)}")
        return f" ({lab})" if question else f" ({note}; {lab})"

    def unreachable(self, exc: Exception) -> str:
        """The sentence for an ICMP error on the way to this server."""
        if isinstance(exc, ConnectionRefusedError):
            return f"{self.where} refused the query" + self.hint("no DNS server there")
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"cannot reach {self.where}: {why}"

    @classmethod
    def parse(cls, text: str) -> _Server:
        """``host:port``, ``[v6]:port`` or ``port``; a host alone (``127.0.0.1``,
        ``::1``, ``[::1]``) gets DNS_PORT. ValueError says what is wrong."""
        text = text.strip()
        if text and not text.isdigit() and text.count(":") != 1 and "]:" not in text:
            return cls(text.removeprefix("[").removesuffix("]"), DNS_PORT, port_typed=False)
        return cls(*parse_address(text))


class _Datagram(asyncio.DatagramProtocol):
    """Waits for the datagram that answers ``query`` (other ids are ignored)."""

    def __init__(self, query: dns.message.Message, server: _Server) -> None:
        self.query = query
        self.server = server
        self.where = server.where
        self.answer: asyncio.Future[tuple[dns.message.Message, int]] = (
            asyncio.get_running_loop().create_future())

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.answer.done():
            return
        try:
            message = dns.message.from_wire(data)
        except Exception as exc:  # dnspython raises many kinds on garbage
            self.answer.set_exception(DnsClientError(
                f"{self.where} sent a reply that is not DNS: {why(exc)}"))
            return
        if self.query.is_response(message):
            self.answer.set_result((message, len(data)))

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(DnsClientError(self.server.unreachable(exc)))


class DnsClient:
    """Look names up through the lab; ``close`` is a no-op kept for the engine."""

    def __init__(self, route: Router, seen: Seen | None = None, *,
                 timeout: float = TIMEOUT) -> None:
        self._route = route
        self._upstream_error = route.upstream_error if isinstance(route, Routes) else None
        self._seen = seen
        self.timeout = timeout

    async def query(self, name: str, rdtype: str = "A",
                    server: str = f"127.0.0.1:{LAB_PORT}", tcp: bool = False) -> DnsResult:
        """Ask ``server`` (``host:port``; a host alone: port 53) for the ``rdtype``
        records of ``name``."""
        rdtype = rdtype.strip().upper() or "A"
        name = name.strip()
        failed = DnsResult(name=name, type=rdtype, server=server.strip())
        try:
            asked = _Server.parse(server)
            query = dns.message.make_query(_absolute(name), rdtype)
        except ValueError as exc:
            return _failed(failed, str(exc))
        except dns.rdatatype.UnknownRdatatype:
            return _failed(failed, f"unknown record type {rdtype!r}: try one of "
                                   f"{', '.join(TYPES)}")
        except dns.exception.DNSException as exc:
            return _failed(failed, f"{name!r} is not a valid name: {exc}")
        where = asked.where
        start = time.perf_counter()
        retried = False
        try:
            if not tcp:
                answer, size = await self._udp(query, asked)
                retried = bool(answer.flags & dns.flags.TC)
            if tcp or retried:
                answer, size = await self._tcp(query, asked)
        except DnsClientError as exc:
            return _failed(failed, str(exc), retried=retried)
        return DnsResult(
            name=name, type=rdtype, server=where, id=answer.id,
            rcode=dns.rcode.to_text(answer.rcode()),
            flags=tuple(dns.flags.to_text(answer.flags).lower().split()),
            rows=_rows(answer), ms=(time.perf_counter() - start) * 1000, size=size,
            tcp=tcp or retried, retried_tcp=retried)

    async def _udp(self, query: dns.message.Message,
                   server: _Server) -> tuple[dns.message.Message, int]:
        where = server.where
        routed = await self._route(Transport.UDP, server.host, server.port, "dns")
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _Datagram(query, server), remote_addr=routed)
        except OSError as exc:
            raise DnsClientError(f"cannot send to {where}: {exc.strerror or exc}") from None
        local = self._report(transport.get_extra_info("sockname"))
        watch = (loop.create_task(self._watch_upstream(routed, local, protocol))
                 if self._upstream_error is not None and local else None)
        try:
            transport.sendto(query.to_wire())
            return await asyncio.wait_for(protocol.answer, patience(self._route)(self.timeout))
        except TimeoutError:
            raise DnsClientError(f"no answer from {where} after {self.timeout:g} s"
                                 + server.hint(RUNNING, question=True)) from None
        finally:
            if watch is not None:
                watch.cancel()
            transport.close()

    async def _watch_upstream(self, routed: tuple[str, int], local: str,
                              protocol: _Datagram) -> None:
        """Fail the wait for an answer when the outbound Wire's server refuses the
        query: the ICMP error reaches the Wire's socket, not this client's."""
        assert self._upstream_error is not None
        exc = await self._upstream_error(routed, local)
        if exc is not None:
            protocol.error_received(exc)

    async def _tcp(self, query: dns.message.Message,
                   server: _Server) -> tuple[dns.message.Message, int]:
        where = server.where
        host, port = await self._route(Transport.TCP, server.host, server.port, "dns")
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(patience(self._route)(self.timeout)):
                reader, writer = await asyncio.open_connection(host, port)
                self._report(writer.get_extra_info("sockname"))
                writer.write(query.to_wire(prepend_length=True))
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
        except TimeoutError:
            raise DnsClientError(f"no answer from {where} over TCP after {self.timeout:g} s"
                                 + server.hint(RUNNING, question=True)) from None
        except asyncio.IncompleteReadError:
            raise DnsClientError(f"{where} closed the TCP connection without a whole "
                                 "answer") from None
        except OSError as exc:
            raise DnsClientError(f"cannot connect to {where} over TCP: {exc.strerror or exc}"
                                 + server.hint(RUNNING, question=True)) from None
        finally:
            if writer is not None:
                writer.close()
        try:
            answer = dns.message.from_wire(data)
        except Exception as exc:  # dnspython raises many kinds on garbage
            raise DnsClientError(f"{where} sent a reply that is not DNS: {why(exc)}") from None
        if not query.is_response(answer):
            raise DnsClientError(f"{where} answered over TCP with another query's id")
        return answer, size

    def _report(self, local: object) -> str:
        """Tell ``seen`` the local address (``host:port``) and return it ("" if none)."""
        if not isinstance(local, tuple) or len(local) < 2:
            return ""
        address = format_address(local[0], local[1])
        if self._seen is not None:
            self._seen(address)
        return address

    async def close(self) -> None:
        return None


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _absolute(name: str) -> dns.name.Name:
    if not name:
        raise ValueError("no name: type one such as www.lab.test")
    return dns.name.from_text(name if name.endswith(".") else name + ".")


def _failed(result: DnsResult, error: str, *, retried: bool = False) -> DnsResult:
    return DnsResult(name=result.name, type=result.type, server=result.server,
                     retried_tcp=retried, tcp=retried, error=error)


def _rows(message: dns.message.Message) -> tuple[Row, ...]:
    return tuple(
        Row(section, str(rrset.name), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype),
            rdata.to_text())
        for section, rrsets in (("answer", message.answer), ("authority", message.authority),
                                ("additional", message.additional))
        for rrset in rrsets for rdata in rrset)


# ---- actions (panels and lessons alike: see lab/clients/handle.py) ------------------


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``query [NAME [TYPE]]``: ask the ``server`` setting's server; a name and type
    given become the ``name`` and ``type`` settings. The view is the DnsResult."""
    client: DnsClient = handle.obj
    if verb == "close":
        return Outcome("closed")
    if verb != "query":
        return Outcome(f"the DNS client cannot {verb!r}", {"ok": False, "text": ""})
    if args:
        handle.configure({"name": args[0], "type": args[1] if len(args) > 1 else "A"})
    result = await client.query(handle.setting("name"), handle.setting("type", "A"),
                                server=handle.address("server") or f"127.0.0.1:{LAB_PORT}",
                                tcp=handle.setting("tcp") == "true")
    handle.show(view=result)
    if result.error:
        return Outcome(result.error, {"ok": False, "text": result.error})
    text = "\n".join(f"{r.name} {r.ttl} {r.type} {r.value}" for r in result.rows)
    return Outcome(f"{result.rcode}" + (f":\n{text}" if text else ""),
                   {"ok": True, "rcode": result.rcode, "text": text})
