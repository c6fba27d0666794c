"""pcapng from messages: blocks as the format says, TCP numbers that follow the stream."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from lab.capture import Capture
from lab.model import Piece, Sender, Transport
from lab.pcapng import ACK, FIN, MSS, PSH, SYN, UDP_MAX, checksum, write


@dataclass
class Seen:
    time: float
    frame: bytes
    comment: str


def read_pcapng(path: Path) -> list[Seen]:
    """Our own reader: check each block's framing, keep the packets (EPBs)."""
    data = path.read_bytes()
    at, seen = 0, []
    kinds = []
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        assert length % 4 == 0 and struct.unpack_from("<I", data, at + length - 4)[0] == length
        kinds.append(kind)
        if kind == 6:
            _, high, low, captured, original = struct.unpack_from("<IIIII", data, at + 8)
            assert captured == original
            frame = data[at + 28:at + 28 + captured]
            options = data[at + 28 + captured + (-captured % 4):at + length - 4]
            comment = ""
            if options:
                code, size = struct.unpack_from("<HH", options)
                assert code == 1
                comment = options[4:4 + size].decode()
            seen.append(Seen(((high << 32) | low) / 1e6, frame, comment))
        at += length
    assert kinds[:2] == [0x0A0D0D0A, 1] and set(kinds[2:]) <= {6}
    return seen


def tcp(frame: bytes) -> tuple[int, int, int, int, int, bytes]:
    """Source port, destination port, seq, ack, flags, payload of an IPv4 TCP frame."""
    assert frame[12:14] == b"\x08\x00" and frame[14] == 0x45 and frame[23] == 6
    assert checksum(frame[14:34]) == 0  # the IP header's checksum is right
    src, dst, seq, ack, _, flags = struct.unpack_from("!HHIIBB", frame, 34)
    return src, dst, seq, ack, flags, frame[54:]


def test_checksum_is_rfc_1071s() -> None:
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == ~0xDDF2 & 0xFFFF
    assert checksum(b"\x01") == ~0x0100 & 0xFFFF


def test_a_tcp_conversation_has_handshake_segments_and_teardown(tmp_path: Path) -> None:
    capture = Capture(clock=lambda: 10.0)
    conn = capture.open(protocol="http", transport=Transport.TCP, client="127.0.0.1:5000",
                        server="127.0.0.1:8080")
    capture.add(conn, Piece(sender=Sender.CLIENT, time=11.0, summary="GET /",
                            raw=b"GET / HTTP/1.1\r\n\r\n", size=18))
    body = bytes(range(256)) * 16  # 4096 bytes: three segments
    capture.add(conn, Piece(sender=Sender.SERVER, time=12.0, summary="200 OK", raw=body,
                            size=9000, truncated=True))
    capture.add(conn, Piece(sender=Sender.SERVER, time=12.5, summary="note", raw=b"x",
                            size=1), injected=True)  # the lab's own: left out
    capture.close(conn.id)
    path = tmp_path / "out.pcapng"
    assert write(capture.messages, capture.connections, path) == 3 + 1 + 3 + 3
    seen = read_pcapng(path)
    parsed = [tcp(s.frame) for s in seen]
    flags = [p[4] for p in parsed]
    assert flags == [SYN, SYN | ACK, ACK, ACK | PSH, ACK, ACK, ACK | PSH,
                     FIN | ACK, FIN | ACK, ACK]
    client_isn, server_isn = parsed[0][2], parsed[1][2]
    assert parsed[1][3] == client_isn + 1 and parsed[2][2:4] == (client_isn + 1, server_isn + 1)
    request = parsed[3]
    assert request[:2] == (5000, 8080) and request[5] == b"GET / HTTP/1.1\r\n\r\n"
    segments = parsed[4:7]
    assert [len(s[5]) for s in segments] == [MSS, MSS, 4096 - 2 * MSS]
    assert b"".join(s[5] for s in segments) == body
    assert [s[2] for s in segments] == [server_isn + 1, server_isn + 1 + MSS,
                                        server_isn + 1 + 2 * MSS]
    assert all(s[3] == client_isn + 1 + 18 for s in segments)  # acks what the client sent
    fin = parsed[7]  # the sequence goes on over the 4904 bytes not kept (a gap)
    assert fin[2:4] == (client_isn + 19, server_isn + 1 + 9000)
    assert parsed[8][3] == client_isn + 20 and parsed[9][3] == server_isn + 9002
    assert [s.time for s in seen] == [10.0] * 3 + [11.0, 12.0, 12.0, 12.0] + [12.0] * 3
    assert seen[3].comment == "cslab #1: GET /"
    assert seen[4].comment.startswith("cslab #2: truncated, 4096 of 9000 bytes kept")
    assert seen[5].comment == ""


def test_udp_datagrams_and_ipv6(tmp_path: Path) -> None:
    now = [1.0]
    capture = Capture(clock=lambda: now[0])
    conn = capture.open(protocol="dns", transport=Transport.UDP, client="127.0.0.1:40000",
                        server="127.0.0.1:5300")
    capture.add(conn, Piece(sender=Sender.CLIENT, time=1.0, summary="q", raw=b"query", size=5))
    capture.add(conn, Piece(sender=Sender.SERVER, time=2.0, summary="a", raw=b"A" * 70000,
                            size=70000))
    now[0] = 3.0
    six = capture.open(protocol="tcp-echo", transport=Transport.TCP, client="[::1]:4000",
                       server="[::1]:7007")
    capture.add(six, Piece(sender=Sender.CLIENT, time=3.0, summary="hi", raw=b"hi", size=2))
    path = tmp_path / "udp.pcapng"
    write(capture.messages, capture.connections, path)
    seen = read_pcapng(path)
    query, answer = seen[0].frame, seen[1].frame
    assert query[23] == 17 and struct.unpack_from("!HHH", query, 34) == (40000, 5300, 13)
    assert query[42:] == b"query"
    assert len(answer) == 14 + 20 + 8 + UDP_MAX  # cut to what a datagram can carry
    assert "truncated" in seen[1].comment
    ipv6 = seen[-1].frame
    assert ipv6[12:14] == b"\x86\xdd" and ipv6[-2:] == b"hi"
    assert struct.unpack_from("!HH", ipv6, 54) == (4000, 7007)


def test_a_rewritten_ftp_line_replaces_the_original_and_notes_are_left_out(
        tmp_path: Path) -> None:
    capture = Capture(clock=lambda: 1.0)
    conn = capture.open(protocol="ftp", transport=Transport.TCP, client="127.0.0.1:5000",
                        server="127.0.0.1:2121")
    old, new = b"227 Entering Passive Mode (127,0,0,1,1,1).\r\n", b"227 ok (127,0,0,1,2,2)\r\n"
    capture.add(conn, Piece(sender=Sender.SERVER, time=1.0, summary="227", raw=old,
                            size=len(old)))
    capture.add(conn, Piece(sender=Sender.SERVER, time=1.0, summary="Wire rewrote 227",
                            raw=new, size=len(new),
                            fields=(("wire", "rewrote"), ("line", new.decode()))),
                injected=True)
    capture.add(conn, Piece(sender=Sender.SERVER, time=1.0, summary="a fault", raw=b"x",
                            size=1), injected=True)
    path = tmp_path / "ftp.pcapng"
    write(capture.messages, capture.connections, path)
    payloads = [tcp(s.frame)[5] for s in read_pcapng(path)]
    assert [p for p in payloads if p] == [new]
