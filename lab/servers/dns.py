"""The DNS server: dnspython messages over UDP and TCP, answering from an editable zone.

The backend listens on 127.0.0.1 twice at ports the system picks: a UDP endpoint
(``address``) and a TCP server (``tcp_address``); the engine puts a UDP Wire and a
TCP Wire on the one port the user chose. Over UDP an answer is cut to 512 bytes
(or to the payload size the query's EDNS offers) with TC set, so the client asks
again over TCP, where the whole answer goes. A datagram dnspython cannot parse
gets FORMERR when its header is readable (NOTIMP when the header asks for
another opcode than QUERY) and nothing when it is not; responses are never
answered (no loops). ANY over UDP is answered minimally (RFC 8482 §4.2: one
synthesized HINFO record; lab/servers/dns_zone.py); over TCP with every record.

When the server is shared and the client is on another machine (lab/peers.py), UDP
answers are rate limited per client address, never larger than the query for an address
that has not shown it is real (a TCP query, a DNS cookie), and cookies are answered:
lab/servers/dns_guard.py. Clients on this machine are answered as before.

Over TCP a client may send many queries without waiting (pipelining). They are
answered in order, a few (PER_TURN) at a time before the other connections get
their turn, so one greedy client cannot keep the rest waiting; at most about
QUERY_BUFFER bytes of a connection's queries are read ahead. A client that does
not read its answers: once more than UNREAD_LIMIT bytes of them wait in the
server, it is asked nothing more until they go; if none of them leaves for
UNREAD_WAIT seconds, its connection is closed. Options (all optional):

    zone    the zone as master-file lines (``Zone.to_text``); every edit writes it
            back into the server's options, so the zone survives a restart
            (default: ``Zone.default()``, the zone lab.test)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import cast

import dns.flags
import dns.message
import dns.opcode
import dns.rcode

from lab import peers
from lab.servers import Backend
from lab.servers.dns_guard import DnsGuard, Verdict, bare_truncated
from lab.servers.dns_zone import DEFAULT_TTL, Listener, Record, Zone, ZoneError
from lab.servers.guard import Refusals

#: The classic limit of a DNS answer over UDP without EDNS (RFC 1035 4.2.1).
UDP_LIMIT = 512
TCP_LIMIT = 65535
#: Where the lab's DNS server listens unless told otherwise (not 53: that needs root).
DEFAULT_PORT = 5300
#: A TCP connection silent this long (seconds) is closed, as name servers do.
TCP_IDLE = 30.0
HEADER_SIZE = 12
#: Queries answered on one connection before the others get a turn.
PER_TURN = 4
#: Bytes of queries read ahead on one connection (asyncio's reader stops at twice this).
QUERY_BUFFER = 8 * 1024
#: Bytes of answers waiting for a client beyond which it counts as not reading…
UNREAD_LIMIT = 64 * 1024
#: …and is closed if none of them has left for this many seconds.
UNREAD_WAIT = 5.0

__all__ = ["DnsBackend", "Record", "ZoneError", "start_dns"]


def udp_limit(query: dns.message.Message) -> int:
    """The largest UDP answer ``query`` accepts: 512 bytes, or its EDNS payload size."""
    return UDP_LIMIT if query.edns < 0 else max(UDP_LIMIT, min(query.payload, TCP_LIMIT))


def _bare_reply(data: bytes, rcode: dns.rcode.Rcode) -> bytes:
    """A response with no sections to the query whose header ``data`` starts with."""
    flags = int.from_bytes(data[2:4], "big")
    reply = dns.message.Message(id=int.from_bytes(data[:2], "big"))
    reply.flags = dns.flags.QR | (flags & (dns.flags.RD | 0x7800))  # keep RD and the opcode
    reply.set_rcode(rcode)
    return reply.to_wire()


def parse(data: bytes) -> dns.message.Message | bytes | None:
    """The query in ``data``; or the bytes to answer it with when it cannot be read
    (FORMERR, NOTIMP); or None: send nothing (no header, or a response)."""
    if len(data) < HEADER_SIZE or data[2] & 0x80:  # no header, or a response: stay quiet
        return None
    try:
        return dns.message.from_wire(data)
    except Exception:  # whatever dnspython finds wrong, the asker learns it was bad…
        # …unless it asks for what this server does not do at all (an UPDATE, say):
        # then the content does not matter, and the answer is NOTIMP.
        opcode = (data[2] >> 3) & 0x0F
        return _bare_reply(data, dns.rcode.FORMERR if opcode == dns.opcode.QUERY
                           else dns.rcode.NOTIMP)


def _failed(data: bytes, exc: Exception) -> bytes:
    """A bug here must not stop the server: say SERVFAIL."""
    print(f"cslab: dns server failed on a query: {exc!r}", file=sys.stderr)
    return _bare_reply(data, dns.rcode.SERVFAIL)


def reply_to(zone: Zone, data: bytes, limit: int | None) -> bytes | None:
    """The bytes answering ``data`` (None: send nothing). ``limit``: the largest answer
    the transport carries; None for UDP, where the query says (``udp_limit``), and
    where ANY is answered minimally (RFC 8482: ``Zone.answer``)."""
    query = parse(data)
    if not isinstance(query, dns.message.Message):
        return query
    try:
        response = zone.answer(query, minimal_any=limit is None)
        size = udp_limit(query) if limit is None else limit
        return response.to_wire(max_size=size, prefer_truncation=True)
    except Exception as exc:
        return _failed(data, exc)


def guarded_reply(zone: Zone, guard: DnsGuard, data: bytes, peer: tuple[str, int],
                  tcp: bool) -> bytes | None:
    """``reply_to`` for a client on another machine (the server is shared): over UDP
    the rate limit, the size rule and cookies apply (lab/servers/dns_guard.py); over
    TCP the address counts as real and a cookie is answered."""
    query = parse(data)
    if query is None:
        return None
    if isinstance(query, bytes):  # an error reply, never larger than the query
        verdict = Verdict.ANSWER if tcp else guard.limit(peer, ("error",))
        if verdict is Verdict.SLIP:
            return bare_truncated(int.from_bytes(data[:2], "big"),
                                  int.from_bytes(data[2:4], "big"))
        return query if verdict is Verdict.ANSWER else None
    try:
        response = zone.answer(query, minimal_any=not tcp)
        if tcp:
            guard.tcp(query, response, peer)
            return response.to_wire(max_size=TCP_LIMIT, prefer_truncation=True)
        return guard.udp(query, response, len(data), peer, udp_limit(query))
    except Exception as exc:
        return _failed(data, exc)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, backend: DnsBackend) -> None:
        self.backend = backend
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        backend = self.backend
        if peers.remote(addr):  # shared, and this is another machine (lab/peers.py)
            answer = guarded_reply(backend.zone, backend.guard, data, addr, tcp=False)
        else:
            answer = reply_to(backend.zone, data, None)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


class DnsBackend:
    """A running DNS server for ``zone``: UDP at ``address``, TCP at ``tcp_address``.

    The panel edits the zone with ``add_record``/``remove_record`` (ZoneError says
    what is wrong) and follows it with ``watch(listener)``: ``listener(records)``
    runs on the engine's loop after each change; ``watch`` returns the unsubscriber.
    """

    def __init__(self, zone: Zone, options: dict[str, str] | None = None) -> None:
        self.zone = zone
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self.tcp_address: tuple[str, int] = ("127.0.0.1", 0)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._unsave = zone.watch(self._save) if options is not None else None
        #: What the server turned away (its panel shows the counts: lab/servers/dns_live.py).
        self.refusals = Refusals()
        self.guard = DnsGuard(self.refusals)
        self._options = options

    @property
    def origin(self) -> str:
        return str(self.zone.origin.to_text(omit_final_dot=True))

    def records(self) -> list[Record]:
        return self.zone.records()

    def add_record(self, name: str, rdtype: str, value: str,
                   ttl: int = DEFAULT_TTL) -> Record:
        return self.zone.add(name, rdtype, value, ttl)

    def remove_record(self, name: str, rdtype: str, value: str) -> Record:
        return self.zone.remove(name, rdtype, value)

    def watch(self, listener: Listener) -> Callable[[], None]:
        return self.zone.watch(listener)

    def _save(self, records: list[Record]) -> None:
        if self._options is not None:
            self._options["zone"] = self.zone.to_text()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=("127.0.0.1", 0))
        self._udp = transport
        self.address = transport.get_extra_info("sockname")[:2]
        self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", 0,
                                               limit=QUERY_BUFFER)
        self.tcp_address = self._tcp.sockets[0].getsockname()[:2]

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """Answer length-prefixed queries on one connection until it ends, idles or
        stops reading its answers (see the module's doc)."""
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)  # close() waits for it
            task.add_done_callback(self._handlers.discard)
        writer.transport.set_write_buffer_limits(high=UNREAD_LIMIT)
        answered = 0
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                data = await asyncio.wait_for(
                    reader.readexactly(int.from_bytes(head, "big")), TCP_IDLE)
                if writer.transport.is_closing():
                    break  # gone: what it sent ahead needs no answer
                peer = writer.get_extra_info("peername")
                if peers.remote(peer):
                    answer = guarded_reply(self.zone, self.guard, data, peer, tcp=True)
                else:
                    answer = reply_to(self.zone, data, TCP_LIMIT)
                if answer is not None:
                    writer.write(len(answer).to_bytes(2, "big") + answer)
                    if not await _drained(writer):
                        break  # not reading its answers
                answered += 1
                if answered % PER_TURN == 0:
                    await asyncio.sleep(0)  # the other connections' turn
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def close(self) -> None:
        """Stop answering on both transports and cut the TCP connections still open."""
        if self._unsave is not None:
            self._unsave()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        server, self._tcp = self._tcp, None
        if server is not None:
            server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            if self._handlers:
                await asyncio.wait(list(self._handlers), timeout=2.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        await asyncio.sleep(0)


async def _drained(writer: asyncio.StreamWriter) -> bool:
    """Wait while more than UNREAD_LIMIT bytes of answers wait for the client; False
    when none of them left for UNREAD_WAIT seconds (the client is not reading)."""
    waiting = writer.transport.get_write_buffer_size()
    while waiting > UNREAD_LIMIT:
        try:
            await asyncio.wait_for(writer.drain(), UNREAD_WAIT)
            return True
        except TimeoutError:
            left, waiting = waiting, writer.transport.get_write_buffer_size()
            if waiting >= left:
                writer.transport.abort()
                return False
    return True


def zone_option(options: dict[str, str]) -> Zone:
    """The zone the options hold (saved by an earlier run), else the default one."""
    text = options.get("zone")
    return Zone.from_text(text) if text else Zone.default()


async def start_dns(options: dict[str, str]) -> Backend:
    backend = DnsBackend(zone_option(options), options)
    try:
        await backend.start()
    except OSError:
        await backend.close()
        raise
    return backend
