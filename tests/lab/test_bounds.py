"""Bounds that hold the whole process, not one connection (issue 17): chat members
that do not read, a big room's join notices, a ping flood, pipelined DNS over TCP.
Real clients (websockets, dnspython, raw sockets) through the engine's Wire on
127.0.0.1; every load is bounded in count and time, every wait has a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import struct
from typing import Any

import dns.asyncquery
import dns.message
import dns.rcode
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from lab.servers.dns import UNREAD_LIMIT, UNREAD_WAIT, DnsBackend, start_dns
from lab.servers.ws import ANNOUNCE_LIMIT, HERE_NAMES, ChatBackend
from lab.servers.ws_member import PING_FLOOD
from tests.lab.helpers import run
from tests.lab.test_dns_server import dns_lab
from tests.lab.test_ws_chat import ChatLab, chat_lab, until
from tests.lab.test_ws_chat_limits import join_without_reading

LINE = "z" * 60_000
NOT_READING = re.compile(r"you are not reading: [\d,]+ KiB waiting")


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def small_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


async def join(port: int, name: str, **kwargs: Any) -> ClientConnection:
    return await connect(f"ws://127.0.0.1:{port}/?name={name}", proxy=None,
                         compression=None, max_size=None, open_timeout=10, **kwargs)


async def flood_until_closed(lab: ChatLab, limit: int = 300) -> int:
    """A member that reads its echoes sends LINE until the room closes someone (or
    ``limit`` lines); returns how many it sent."""
    loud = await join(lab.port, "loud")
    sent = 0

    async def read() -> None:
        async for _ in loud:
            pass

    reading = asyncio.create_task(read())
    try:
        while sent < limit and not any(e.action == "closed" for e in lab.events):
            await loud.send(LINE)
            sent += 1
            await asyncio.sleep(0)
    finally:
        reading.cancel()
        await loud.close()
    return sent


def test_a_member_that_stops_reading_is_closed_with_1008_and_its_reason() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            sock = small_socket()
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", lab.port))
            lazy = await join(lab.port, "lazy", sock=sock, max_queue=1)
            bob = await lab.client("bob")
            sent = await flood_until_closed(lab)
            [closed] = [e for e in lab.events if e.action == "closed"]
            assert closed.name == "lazy" and NOT_READING.fullmatch(closed.line), closed
            assert sent < 300
            # lazy reads again: what was already on its way, then the close and why
            got = 0
            try:
                async with asyncio.timeout(20):
                    async for _ in lazy:
                        got += 1
            except ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code == 1008
                assert NOT_READING.fullmatch(exc.rcvd.reason), exc.rcvd
            assert lazy.close_code == 1008 and got < sent
            await until(lambda: "* lazy left (too slow: not reading)" in bob.lines,
                        "the room hears why lazy left", timeout=15)
            summaries = [m.summary for m in lab.engine.capture.messages]
            assert any(s.startswith('CLOSE 1008 (policy violation) "you are not reading: ')
                       for s in summaries)

    run(main, timeout=60)


def test_many_members_that_never_read_do_not_add_up() -> None:
    """20 members read nothing while one sends 60 KB lines: each is closed once its
    outbox is full, the room's outboxes never hold more than their bound, and the
    process grows by a bounded amount (most of it: the capture of what got through)."""

    async def main() -> None:
        async with chat_lab() as lab:
            backend: ChatBackend = lab.backend
            before = rss_mib()
            sloths = [await join_without_reading(lab.port, f"s{i}") for i in range(20)]
            try:
                await until(lambda: len(backend.members()) == 20, "20 in", timeout=15)
                loud = await join(lab.port, "loud")
                peak = sent = 0
                while sent < 600 and len({e.name for e in lab.events
                                          if e.action == "closed"}) < 20:
                    await loud.send(LINE)
                    sent += 1
                    peak = max(peak, backend.waiting)
                    assert max(backend.backlog().values()) < backend.slow_limit + 3 * len(LINE)
                    await asyncio.sleep(0)
                assert peak <= backend.room_limit
                print(f"{sent} lines, peak {peak:,} bytes waiting in the room")
                await until(lambda: backend.members() == ["loud"], "the sloths closed",
                            timeout=30)
                closed = {e.name for e in lab.events if e.action == "closed"}
                assert closed == {f"s{i}" for i in range(20)}
                await loud.close()
                grew = rss_mib() - before
                print(f"RSS +{grew:.0f} MiB")
                assert grew < 400, f"+{grew:.0f} MiB"  # unbounded: +440 MiB for 100 members
            finally:
                for sock in sloths:
                    sock.close()

    run(main, timeout=90)


def test_a_big_room_hears_summaries_not_every_join() -> None:
    """Without the rule n joins send n²/2 "joined" frames (7,260 for 120)."""

    async def main() -> None:
        async with chat_lab() as lab:
            members = [await join(lab.port, f"m{i}", max_queue=None) for i in range(120)]
            try:
                last = members[-1]
                here = await asyncio.wait_for(last.recv(), 10)
                assert here == (f"* here now (120): {', '.join(f'm{i}' for i in range(HERE_NAMES))}"
                                f", and {120 - HERE_NAMES} more")
                first_lines: list[str] = []

                async def summary_with(text: str) -> None:
                    while text not in (line := str(await members[0].recv())):
                        first_lines.append(line)
                    first_lines.append(line)

                await asyncio.wait_for(summary_with("; 120 here now"), 15)
                assert re.fullmatch(r"\* [\d,]+ joined; 120 here now", first_lines[-1])
                joined = [line for line in first_lines if line.endswith(" joined")]
                assert len(joined) == ANNOUNCE_LIMIT  # m0…m49 one by one, then summaries
                frames = [m for m in lab.engine.capture.messages
                          if m.summary.startswith('TEXT "* m') and 'joined"' in m.summary]
                assert len(frames) < 2_000
                for member in members[60:]:
                    await member.close()
                await asyncio.wait_for(summary_with("; 60 here now"), 15)
                assert re.fullmatch(r"\* [\d,]+ left; 60 here now", first_lines[-1])
            finally:
                await asyncio.gather(*(m.close() for m in members))

    run(main, timeout=90)


def test_a_ping_flood_is_closed_with_1008_and_a_steady_pinger_is_not() -> None:
    async def main() -> None:
        async with chat_lab() as lab:
            bob = await lab.client("bob")
            steady = await join(lab.port, "steady")
            for _ in range(130):  # 45 a second for about 3 s: over the burst, under the rate
                await steady.ping()
                await asyncio.sleep(1 / 45)
            assert steady.close_code is None
            pinger = await join(lab.port, "pinger")
            try:
                async with asyncio.timeout(15):
                    for _ in range(5_000):
                        await pinger.ping()
                    await pinger.wait_closed()
            except ConnectionClosed:
                pass
            assert pinger.close_code == 1008 and pinger.close_reason == PING_FLOOD
            await until(lambda: "* pinger left (ping flood)" in bob.lines, "the notice", 10)
            assert any(m.summary == f'CLOSE 1008 (policy violation) "{PING_FLOOD}"'
                       for m in lab.engine.capture.messages)
            assert lab.backend.members() == ["bob", "steady"]
            await steady.close()

    run(main, timeout=60)


def test_a_raw_ping_flood_that_reads_nothing_is_cut_off() -> None:
    """200,000 pings written without reading a pong: the server stops reading them,
    closes with 1008 and cuts the connection; memory grows by a bounded amount."""

    async def main() -> None:
        async with chat_lab() as lab:
            before = rss_mib()
            sock = await join_without_reading(lab.port, "flood")
            loop = asyncio.get_running_loop()
            ping = bytes([0x89, 0x80]) + b"\0\0\0\0"
            got = b""
            try:
                async with asyncio.timeout(30):
                    while b"* flood joined" not in got:  # the upgrade is through
                        got += await loop.sock_recv(sock, 4096)
                    with contextlib.suppress(ConnectionError):
                        for _ in range(200):
                            await loop.sock_sendall(sock, ping * 1000)
                    # now it reads: the pongs it was sent, the close, then the end
                    with contextlib.suppress(ConnectionError):
                        while chunk := await loop.sock_recv(sock, 1 << 16):
                            got += chunk
            finally:
                sock.close()
            assert b"\x88" in got and PING_FLOOD.encode() in got
            assert got.count(b"\x8a\x00") < 200_000  # not a pong for every ping
            await until(lambda: lab.backend.members() == [], "the flood gone", 15)
            assert any(m.summary == f'CLOSE 1008 (policy violation) "{PING_FLOOD}"'
                       for m in lab.engine.capture.messages)
            grew = rss_mib() - before
            print(f"RSS +{grew:.0f} MiB")
            assert grew < 300  # never closed before: +395 MiB

    run(main, timeout=60)


# -- DNS over TCP --------------------------------------------------------------------


def pipelined(name: str, count: int) -> bytes:
    query = dns.message.make_query(name, "A" if name.startswith("www") else "TXT").to_wire()
    return (struct.pack("!H", len(query)) + query) * count


async def greedy(port: int, count: int) -> socket.socket:
    """A client that sends ``count`` queries at once and reads no answer."""
    sock = small_socket()
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    data = pipelined("www.lab.test", count)
    loop.create_task(loop.sock_sendall(sock, data))  # may never finish: nobody reads
    return sock


def test_a_normal_client_is_answered_while_greedy_ones_pipeline() -> None:
    async def main() -> None:
        async with dns_lab() as (_engine, _info, port):
            before = rss_mib()
            hogs = [await greedy(port, 500) for _ in range(20)]
            try:
                loop = asyncio.get_running_loop()
                start = loop.time()
                for _ in range(10):
                    query = dns.message.make_query("www.lab.test", "A")
                    answer = await dns.asyncquery.tcp(query, "127.0.0.1", port=port,
                                                      timeout=15)
                    assert answer.rcode() == dns.rcode.NOERROR and answer.answer
                took = loop.time() - start
                assert took < 15, f"10 answers took {took:.1f} s"
                assert rss_mib() - before < 150
            finally:
                for sock in hogs:
                    sock.close()

    run(main, timeout=90)


def test_a_client_that_does_not_read_its_answers_is_closed() -> None:
    """Straight to the backend (no Wire buffering in between): big answers pile up,
    the server stops reading once UNREAD_LIMIT of them wait, then closes."""

    async def main() -> None:
        backend = await start_dns({})
        assert isinstance(backend, DnsBackend)
        loop = asyncio.get_running_loop()
        sock = small_socket()
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, backend.tcp_address)
            sent = 0
            try:
                async with asyncio.timeout(UNREAD_WAIT * 4):
                    while True:
                        await loop.sock_sendall(sock, pipelined("big.lab.test", 50))
                        sent += 50
            except (ConnectionError, TimeoutError):
                pass
            assert sent * 500 > UNREAD_LIMIT  # answers beyond the bound were asked for
            # what is left to read ends: the server closed the connection
            async with asyncio.timeout(10):
                with_end = b""
                try:
                    while chunk := await loop.sock_recv(sock, 1 << 16):
                        with_end += chunk
                except ConnectionError:
                    pass
            assert not backend._writers  # noqa: SLF001 – no connection left open
        finally:
            sock.close()
            await backend.close()

    run(main, timeout=60)
