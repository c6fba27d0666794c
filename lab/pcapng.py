"""A capture as pcapng: synthesised Ethernet/IP/TCP and UDP packets for Wireshark.

The lab captures messages at the Wire, not packets, so the packets are made up
from them: per TCP connection a SYN, SYN-ACK, ACK handshake when it opened,
each message's bytes in segments of at most ``MSS`` bytes with sequence and
acknowledgement numbers that follow the stream, and FIN, FIN-ACK, ACK when it
closed, or RST when it ended with a reset (the Wire's, or a peer's); per UDP
message one datagram. Addresses and ports are the connection's client and
server, times the messages'. Only the bytes the capture kept are written: a
truncated message (a body past RAW_LIMIT, or a connection past its budget) gives
its kept prefix, with a packet comment saying so, and the sequence numbers go on
over the bytes not kept, so Wireshark marks the gap ("previous segment not
captured") and dissects what follows. Bytes the Wire read and never delivered
(``Message.undelivered``) did not cross to the other side: they are not written
and take no sequence numbers. Messages the lab injected (its own notes, faults)
carry no bytes that crossed, and are left out, but for the FTP helper's
rewritten control lines, which replace the lines they rewrote.

The file format is small enough to write by hand (a section header, one
interface, an enhanced packet block per packet; see the pcapng draft RFC).
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import struct
import sys
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lab import __version__
from lab.model import Connection, Message, Sender, Transport, is_rewrite_note, parse_address

#: Payload bytes per TCP segment (an Ethernet MSS), so every packet is a plausible one.
MSS = 1460
#: How many of a connection's lines wait for the FTP helper's rewrite of one of them.
REWRITE_LOOKBACK = 32
#: The most a UDP datagram can carry over IPv4.
UDP_MAX = 65507
LINKTYPE_ETHERNET = 1
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
#: Made-up addresses for an end given by a name instead of an IP (TEST-NET-1).
UNKNOWN_HOST = "192.0.2.1"

Endpoint = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]


@dataclass(slots=True)
class Packet:
    time: float
    data: bytes
    comment: str = ""


def _endpoint(address: str) -> Endpoint:
    host, port = parse_address(address)
    try:
        return ipaddress.ip_address(host.strip("[]")), port
    except ValueError:
        return ipaddress.IPv4Address(UNKNOWN_HOST), port


def _mac(end: Endpoint) -> bytes:
    """A made-up MAC address per endpoint (locally administered, so never a real one)."""
    return b"\x02\x00" + struct.pack("!I", zlib.crc32(f"{end[0]}:{end[1]}".encode()))


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    words = array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(src: Endpoint, dst: Endpoint, proto: int, segment: bytes) -> bytes:
    """Ethernet + IP header around a TCP or UDP ``segment`` (its checksum still zero)."""
    s, d = src[0], dst[0]
    if isinstance(s, ipaddress.IPv4Address) and isinstance(d, ipaddress.IPv4Address):
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, proto, len(segment))
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0, 0x4000, 64,
                             proto, 0, s.packed, d.packed)
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        ethertype = 0x0800
    else:
        s6 = s if isinstance(s, ipaddress.IPv6Address) else ipaddress.IPv6Address(
            f"::ffff:{s}")
        d6 = d if isinstance(d, ipaddress.IPv6Address) else ipaddress.IPv6Address(
            f"::ffff:{d}")
        pseudo = s6.packed + d6.packed + struct.pack("!I3xB", len(segment), proto)
        header = struct.pack("!IHBB", 6 << 28, len(segment), proto, 64) + s6.packed + d6.packed
        ethertype = 0x86DD
    offset = 16 if proto == 6 else 6  # where the checksum sits in a TCP / UDP header
    total = checksum(pseudo + segment) or (0xFFFF if proto == 17 else 0)
    segment = segment[:offset] + struct.pack("!H", total) + segment[offset + 2:]
    return _mac(dst) + _mac(src) + struct.pack("!H", ethertype) + header + segment


def tcp_packet(src: Endpoint, dst: Endpoint, seq: int, ack: int, flags: int,
               payload: bytes = b"") -> bytes:
    """An Ethernet frame with one TCP segment."""
    header = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                         5 << 4, flags, 65535, 0, 0)
    return _ip(src, dst, 6, header + payload)


def udp_packet(src: Endpoint, dst: Endpoint, payload: bytes) -> bytes:
    """An Ethernet frame with one UDP datagram."""
    return _ip(src, dst, 17, struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0)
               + payload)


def _note(message: Message, written: int) -> str:
    lost = (f", {message.undelivered} bytes read by the Wire never delivered"
            if message.undelivered else "")
    if message.truncated or written < message.size - message.undelivered:
        return (f"cslab #{message.id}: truncated, {written} of {message.size} bytes kept"
                f"{lost}: {message.summary}")
    return f"cslab #{message.id}: {message.summary}" + (" [malformed]"
                                                        if message.malformed else "") + (
        f" [{lost[2:]}]" if lost else "")


def _isn(conn_id: str, sender: Sender) -> int:
    """A fixed initial sequence number per connection and side (same file, same numbers)."""
    return zlib.crc32(f"{conn_id}/{sender.value}".encode())


def _resets(conn: Connection, notes: list[Message]) -> set[Sender]:
    """Who ended ``conn`` with a reset (RST), from the Wire's notes and the connection's
    note: the Wire resets both sockets, so each end gets one; a peer's reset is its own."""
    wire = [note.summary for note in notes if note.summary.startswith("Wire ")]
    if any(text.startswith("Wire refused") and "reset" in text for text in wire):
        return {Sender.SERVER}  # the client's connection, reset as it came
    if any("reset" in text for text in wire):
        return set(Sender)
    text = conn.note.lower()
    if "reset by peer" in text or "broken pipe" in text:
        for side in Sender:
            if text.startswith(side.value):
                return {side}
    for note in notes:  # the Wire's note of bytes it could not deliver: the other end reset
        if "never delivered" in note.summary and "connection (reset)" in note.summary:
            return {Sender.CLIENT if note.sender is Sender.SERVER else Sender.SERVER}
    return set()


def _tcp(conn: Connection, messages: Iterable[Message],
         resets: Callable[[], set[Sender]] = set) -> Iterator[Packet]:
    """A TCP connection's packets, in order (``resets`` is asked at its end: who reset
    it, once every message was seen)."""
    client, server = _endpoint(conn.client), _endpoint(conn.server)
    ends = {Sender.CLIENT: (client, server), Sender.SERVER: (server, client)}
    seq = {side: _isn(conn.id, side) for side in Sender}
    stream = iter(messages)
    first = next(stream, None)
    start = conn.opened if first is None else min(conn.opened, first.time)
    yield Packet(start, tcp_packet(client, server, seq[Sender.CLIENT], 0, SYN))
    yield Packet(start, tcp_packet(server, client, seq[Sender.SERVER], seq[Sender.CLIENT] + 1,
                                   SYN | ACK))
    yield Packet(start, tcp_packet(client, server, seq[Sender.CLIENT] + 1,
                                   seq[Sender.SERVER] + 1, ACK))
    seq = {side: number + 1 for side, number in seq.items()}
    now = start
    for message in itertools.chain(() if first is None else (first,), stream):
        now = max(now, message.time)
        src, dst = ends[message.sender]
        other = Sender.SERVER if message.sender is Sender.CLIENT else Sender.CLIENT
        crossed = max(0, message.size - message.undelivered)  # what reached the other side
        raw = message.raw[:crossed]
        for at in range(0, len(raw), MSS):
            chunk = raw[at:at + MSS]
            last = at + MSS >= len(raw)
            yield Packet(now, tcp_packet(src, dst, seq[message.sender], seq[other],
                                         ACK | (PSH if last else 0), chunk),
                         _note(message, len(raw)) if at == 0 else "")
            seq[message.sender] += len(chunk)
        seq[message.sender] += max(0, crossed - len(raw))  # crossed, not kept: a gap
    if conn.closed is not None:
        now = max(now, conn.closed)
        c, s = seq[Sender.CLIENT], seq[Sender.SERVER]
        reset = resets()
        if reset:
            for side in (side for side in Sender if side in reset):
                yield Packet(now, tcp_packet(*ends[side], seq[side], seq[_other(side)],
                                             RST | ACK))
        else:
            yield Packet(now, tcp_packet(client, server, c, s, FIN | ACK))
            yield Packet(now, tcp_packet(server, client, s, c + 1, FIN | ACK))
            yield Packet(now, tcp_packet(client, server, c + 1, s + 1, ACK))


def _other(side: Sender) -> Sender:
    return Sender.SERVER if side is Sender.CLIENT else Sender.CLIENT


def _udp(conn: Connection, messages: Iterable[Message]) -> Iterator[Packet]:
    client, server = _endpoint(conn.client), _endpoint(conn.server)
    for message in messages:
        src, dst = (client, server) if message.sender is Sender.CLIENT else (server, client)
        payload = message.raw[:UDP_MAX]
        yield Packet(message.time, udp_packet(src, dst, payload), _note(message, len(payload)))


def _is_rewrite(message: Message) -> bool:
    """The FTP helper's note of a line it rewrote toward the client side (``line``: the
    captured side got that line instead of the one the note follows)."""
    return is_rewrite_note(message) and any(k == "line" for k, _ in message.fields) \
        and len(message.raw) >= 4


def _as_sent(messages: Iterable[Message], notes: list[Message]) -> Iterator[Message]:
    """A connection's messages as its packets carry them: the lab's own notes left out
    (kept in ``notes``, which say who reset it), and a rewritten FTP line (227, 229,
    PORT, EPRT) in the place of the line it rewrote, as the other side got it, so that
    Wireshark links the data connections, which cross the Wire at the new address. The
    rewrite follows its line closely: the last REWRITE_LOOKBACK lines wait for it."""
    waiting: deque[Message] = deque()
    for message in messages:
        if message.injected:
            notes.append(message)
            if _is_rewrite(message):
                for at in range(len(waiting) - 1, -1, -1):
                    before = waiting[at]
                    if before.sender is message.sender and before.raw[:4] == message.raw[:4]:
                        waiting[at] = replace(before, raw=message.raw, size=len(message.raw))
                        break
            continue
        if message.raw:
            waiting.append(message)
            if len(waiting) > REWRITE_LOOKBACK:
                yield waiting.popleft()
    yield from waiting


def connection_packets(conn: Connection, messages: Iterable[Message]) -> Iterator[Packet]:
    """One connection's packets, in order, from its messages (in capture order)."""
    notes: list[Message] = []
    sent = _as_sent(messages, notes)
    if conn.transport is Transport.UDP:
        return _udp(conn, sent)
    return _tcp(conn, sent, lambda: _resets(conn, notes))


def stream(connections: Sequence[Connection],
           messages_of: Callable[[str], Iterable[Message]]) -> Iterator[Packet]:
    """The packets of a capture, oldest first (a connection's own stay in order; at the
    same time, the earlier connection's first), from each connection's messages as
    ``messages_of`` gives them. A connection's packets are made while it is open in
    time, so what is held at once is what overlaps in time, not the capture."""
    order = sorted(range(len(connections)), key=lambda i: connections[i].opened)
    heap: list[tuple[float, int, int, Packet, Iterator[Packet]]] = []
    count = itertools.count()

    def push(i: int, packets: Iterator[Packet]) -> None:
        packet = next(packets, None)
        if packet is not None:
            heapq.heappush(heap, (packet.time, i, next(count), packet, packets))

    at = 0
    while at < len(order) or heap:
        while at < len(order) and (not heap or connections[order[at]].opened <= heap[0][0]):
            conn = connections[order[at]]
            push(order[at], connection_packets(conn, messages_of(conn.id)))
            at += 1
        if heap:
            _, i, _, packet, packets = heapq.heappop(heap)
            yield packet
            push(i, packets)


def unrecorded(conn_id: str, first: Message) -> Connection:
    """A connection made up for messages whose connection the capture did not record."""
    return Connection(id=conn_id, protocol=first.protocol, transport=Transport.TCP,
                      client=first.client, server=first.server, opened=first.time)


def packets(messages: Iterable[Message], connections: dict[str, Connection]) -> list[Packet]:
    """The packets of a capture held in memory, oldest first (see ``stream``)."""
    by_conn: dict[str, list[Message]] = {}
    for message in messages:
        by_conn.setdefault(message.connection, []).append(message)
    every = list(connections.values())
    every += [unrecorded(conn_id, mine[0]) for conn_id, mine in by_conn.items()
              if conn_id not in connections]
    return list(stream(every, lambda conn_id: by_conn.get(conn_id, ())))


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def section_header() -> bytes:
    options = _option(4, f"Client-Server Lab {__version__}".encode()) + _option(0, b"")
    return _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + options)


def interface() -> bytes:
    options = (_option(2, b"cslab") + _option(9, b"\x06")  # timestamps in microseconds
               + _option(0, b""))
    return _block(1, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 0) + options)


def enhanced_packet(packet: Packet) -> bytes:
    micros = round(packet.time * 1_000_000)
    body = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(packet.data),
                       len(packet.data))
    body += packet.data + b"\0" * (-len(packet.data) % 4)
    if packet.comment:
        body += _option(1, packet.comment.encode("utf-8")) + _option(0, b"")
    return _block(6, body)


def write(messages: Iterable[Message], connections: dict[str, Connection],
          destination: str | Path) -> int:
    """Write a capture as pcapng to ``destination``; returns the packets written.
    OSError if it cannot be written."""
    return write_packets(packets(messages, connections), destination)


def write_packets(made: Iterable[Packet], destination: str | Path) -> int:
    """Write packets as they come (a stream of any length) as pcapng; how many."""
    count = 0
    with open(destination, "wb") as out:
        out.write(section_header())
        out.write(interface())
        for packet in made:
            out.write(enhanced_packet(packet))
            count += 1
    return count
