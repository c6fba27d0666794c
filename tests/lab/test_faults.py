"""Faults on the Wire, over real sockets on 127.0.0.1: latency, bandwidth, loss,
stall, reset after N bytes, refused connections; and the settings themselves."""

from __future__ import annotations

import asyncio
import ftplib
import time
from pathlib import Path

import pytest

from lab.capture import Capture
from lab.cli import _fault_settings, build_parser
from lab.engine import Engine, EngineError
from lab.wire import TcpWire, UdpWire
from lab.wire.faults import QUEUE_LIMIT, Faults, FaultState
from tests.lab.helpers import EchoServer, run
from tests.lab.test_wire import closed, serving, until, wired


def injected(capture: Capture) -> list[str]:
    return [m.summary for m in capture.messages if m.injected]


async def round_trip(address: tuple[str, int], data: bytes = b"ping\n") -> float:
    reader, writer = await asyncio.open_connection(*address)
    try:
        start = time.monotonic()
        writer.write(data)
        assert await reader.readexactly(len(data)) == data
        return time.monotonic() - start
    finally:
        writer.close()
        await writer.wait_closed()


# ---- the settings -----------------------------------------------------------------


def test_settings_change_one_at_a_time_and_refuse_bad_values() -> None:
    faults = Faults().changed(latency=200, seed=7)
    assert (faults.latency, faults.seed, faults.jitter) == (200, 7, 0)
    for bad in ({"loss": 1.5}, {"latency": -1}, {"bandwidth": -3}, {"nonsense": 1},
                {"latency": float("nan")}, {"latency": float("inf")},
                {"jitter": float("nan")}, {"loss": float("nan")}):
        with pytest.raises(ValueError):
            faults.changed(**bad)
    assert "200 ms a round trip" in faults.shaping_text()


def test_the_same_seed_draws_the_same_jitter_and_loss() -> None:
    def draws(seed: int) -> list[object]:
        state = FaultState(Faults(latency=100, jitter=50, loss=0.3, seed=seed))
        return [(state.delay(), state.lose()) for _ in range(20)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_the_cli_takes_the_faults_for_serve_and_relay() -> None:
    args = build_parser().parse_args(
        ["relay", "--listen", ":0", "--to", ":7", "--latency", "200", "--jitter", "20",
         "--bandwidth", "1000", "--loss", "0.25", "--seed", "9"])
    assert _fault_settings(args) == {"latency": 200, "jitter": 20, "bandwidth": 1000,
                                     "loss": 0.25, "seed": 9}
    args = build_parser().parse_args(["serve", "tcp-echo", "--latency", "50"])
    assert _fault_settings(args)["latency"] == 50


# ---- TCP --------------------------------------------------------------------------


def test_latency_adds_about_its_value_to_a_round_trip_and_is_noted_once() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as echo, wired(echo.port, capture) as wire:
            plain = await round_trip(wire.address)
            wire.set_faults(latency=200)
            reader, writer = await asyncio.open_connection(*wire.address)
            times = []
            for _ in range(3):
                start = time.monotonic()
                writer.write(b"ping\n")
                await reader.readexactly(5)
                times.append(time.monotonic() - start)
            writer.close()
            await writer.wait_closed()
            await until(lambda: len(closed(capture)) == 2)
        assert plain < 0.1
        assert all(0.18 <= t < 1.0 for t in times), times
        notes = [m for m in capture.messages if m.injected]
        assert [m.summary for m in notes] == ["Wire delayed 200 ms a round trip"]
        assert notes[0].connection == "c2"

    run(main)


def test_jitter_keeps_the_bytes_in_order() -> None:
    data = b"".join(b"%05d\n" % i for i in range(300))

    async def main() -> None:
        async with EchoServer() as echo, wired(echo.port) as wire:
            wire.set_faults(latency=20, jitter=20, seed=1)
            reader, writer = await asyncio.open_connection(*wire.address)
            for i in range(0, len(data), 60):  # many small chunks, each its own delay
                writer.write(data[i:i + 60])
                await writer.drain()
                await asyncio.sleep(0.001)
            assert await reader.readexactly(len(data)) == data
            writer.close()
            await writer.wait_closed()

    run(main)


def test_a_bandwidth_cap_makes_a_download_take_proportionally_longer() -> None:
    size = 50_000

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"x" * size)
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with serving(send) as port, wired(port) as wire:
            wire.set_faults(bandwidth=100_000)
            start = time.monotonic()
            reader, writer = await asyncio.open_connection(*wire.address)
            got = await reader.read(1)
            first = time.monotonic() - start
            got += await reader.read(-1)
            took = time.monotonic() - start
            writer.close()
        assert len(got) == size
        assert 0.4 <= took < 3.0, took
        assert first < took / 2, (first, took)  # it flows at the rate, not in one burst

    run(main)


def test_a_slow_wire_pauses_the_sender_instead_of_queueing_without_bound() -> None:
    async def main() -> None:
        async with EchoServer() as echo, wired(echo.port) as wire:
            wire.set_faults(bandwidth=200_000)
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"y" * (2 * 1024 * 1024))  # ten seconds' worth at that rate
            await asyncio.sleep(0.5)
            link = next(iter(wire.links))
            # one read brings at most 256 KiB (asyncio's read size): the bound
            assert max(box.queued for box in link.outbox.values()) <= QUEUE_LIMIT + 256 * 1024
            assert "queue" in link.client.pauses or "queue" in link.server.pauses
            writer.transport.abort()

    run(main)


def test_a_stall_forwards_nothing_until_cleared() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as echo, wired(echo.port, capture) as wire:
            wire.set_faults(stall=True)
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"hello\n")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.readexactly(6), 0.3)
            wire.set_faults(stall=False)
            assert await asyncio.wait_for(reader.readexactly(6), 2) == b"hello\n"
            writer.close()
            await writer.wait_closed()
        assert injected(capture) == [
            "Wire stalls the connection: nothing is forwarded until cleared",
            "Wire ended the stall"]

    run(main)


def test_reset_after_n_bytes_passes_exactly_n_bytes_then_resets() -> None:
    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(10):
            writer.write(b"z" * 1000)
            await writer.drain()
        await reader.read()
        writer.close()

    async def main() -> None:
        capture = Capture()
        async with serving(send) as port, wired(port, capture) as wire:
            wire.set_faults(reset_after=2500)
            reader, writer = await asyncio.open_connection(*wire.address)
            got = bytearray()
            with pytest.raises(ConnectionResetError):
                while chunk := await reader.read(65536):
                    got += chunk
                raise AssertionError("closed without a reset")
            writer.close()
            await until(lambda: len(closed(capture)) == 1)
        assert len(got) == 2500
        assert injected(capture) == ["Wire reset the connection after 2,500 bytes"]
        assert closed(capture)[0].note == "reset by the Wire after 2,500 bytes"

    run(main)


def test_refuse_resets_each_new_connection_and_captures_it() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as echo, wired(echo.port, capture) as wire:
            wire.set_faults(refuse=True)
            reader, writer = await asyncio.open_connection(*wire.address)
            with pytest.raises(ConnectionResetError):
                writer.write(b"anyone?\n")
                await writer.drain()
                if not await reader.read(100):
                    raise ConnectionResetError  # closed before the reset was seen
            writer.close()
            await until(lambda: len(closed(capture)) == 1)
            wire.set_faults(refuse=False)
            assert await round_trip(wire.address) < 1.0
        assert injected(capture) == ["Wire refused the connection (reset)"]

    run(main)


# ---- UDP --------------------------------------------------------------------------


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append(data)


async def _lost_with_seed(seed: int) -> tuple[list[bytes], list[str]]:
    loop = asyncio.get_running_loop()
    sink_transport, sink = await loop.create_datagram_endpoint(
        _Sink, local_addr=("127.0.0.1", 0))
    capture = Capture()
    wire = UdpWire(capture, listen=("127.0.0.1", 0),
                   target=sink_transport.get_extra_info("sockname")[:2])
    await wire.start()
    wire.set_faults(loss=0.3, seed=seed)
    client, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=wire.address)
    sent = [b"datagram %02d" % i for i in range(40)]
    for data in sent:
        client.sendto(data)
        await asyncio.sleep(0.002)
    drops = sum("dropped" in s for s in injected(capture))
    await until(lambda: len(sink.got) + drops == len(sent))
    client.close()
    await wire.stop()
    sink_transport.close()
    return sink.got, injected(capture)


def test_udp_loss_with_a_seed_drops_the_same_datagrams_every_time() -> None:
    async def main() -> None:
        first, notes = await _lost_with_seed(42)
        again, _ = await _lost_with_seed(42)
        other, _ = await _lost_with_seed(43)
        assert first == again
        assert 15 <= len(first) <= 37 and first != other
        assert notes[0] == "Wire dropped a datagram (loss 30%)"
        assert len(notes) == 40 - len(first)

    run(main)


def test_udp_latency_delays_an_echo() -> None:
    from lab.servers.echo import start_udp_echo

    async def main() -> None:
        loop = asyncio.get_running_loop()
        backend = await start_udp_echo({})
        wire = UdpWire(Capture(), listen=("127.0.0.1", 0), target=backend.address)
        await wire.start()
        wire.set_faults(latency=200)
        got: asyncio.Queue[bytes] = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                got.put_nowait(data)

        client, _ = await loop.create_datagram_endpoint(Client, remote_addr=wire.address)
        start = time.monotonic()
        client.sendto(b"hi")
        assert await asyncio.wait_for(got.get(), 5) == b"hi"
        assert 0.18 <= time.monotonic() - start < 1.0
        client.close()
        await wire.stop()
        await backend.close()

    run(main)


# ---- the engine -------------------------------------------------------------------


def test_the_engine_sets_faults_on_a_server_and_keeps_them_across_a_restart() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await engine.add_server("tcp-echo", port=0)
            engine.wire_board.set_faults(info.id, latency=200)
            assert await round_trip(parse(info.address)) >= 0.18
            await engine.stop_server(info.id)
            info = await engine.start_server(info.id)
            assert engine.wire_board.faults(info.id).latency == 200
            assert await round_trip(parse(info.address)) >= 0.18
            engine.wire_board.set_faults(info.id, latency=0)
            assert await round_trip(parse(info.address)) < 0.15
            with pytest.raises(EngineError):
                engine.wire_board.set_faults("s99", latency=1)
            with pytest.raises(ValueError):
                engine.wire_board.set_faults(info.id, loss=2)
        finally:
            await engine.shutdown()

    run(main)


def test_the_engine_sets_faults_on_a_relay() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            async with EchoServer() as echo:
                wire = await engine.relay(("127.0.0.1", 0), ("127.0.0.1", echo.port))
                assert isinstance(wire, TcpWire) and wire.wire_id == "r1"
                engine.wire_board.set_faults("r1", latency=200)
                assert await round_trip(wire.address) >= 0.18
        finally:
            await engine.shutdown()

    run(main)


def parse(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def test_an_answer_still_delayed_when_the_server_closes_arrives_whole() -> None:
    async def answer_and_close(reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"the answer\n" * 1000)
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with serving(answer_and_close) as port, wired(port) as wire:
            wire.set_faults(latency=200, bandwidth=50_000)
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"question\n")
            writer.write_eof()  # both sides finished before the answer left the Wire
            assert await asyncio.wait_for(reader.read(-1), 5) == b"the answer\n" * 1000
            writer.close()

    run(main)


def test_an_ftp_download_takes_the_sessions_bandwidth_cap(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"f" * 40_000)

    def download(host: str, port: int) -> tuple[bytes, float]:
        ftp = ftplib.FTP()
        ftp.connect(host, port, timeout=10)
        ftp.login("student", "lab")
        got: list[bytes] = []
        start = time.monotonic()
        ftp.retrbinary("RETR big.bin", got.append)
        took = time.monotonic() - start
        ftp.quit()
        return b"".join(got), took

    async def main() -> None:
        engine = Engine()
        try:
            info = await engine.add_server("ftp", port=0, options={"root": str(tmp_path)})
            engine.wire_board.set_faults(info.id, bandwidth=100_000)
            host, port = parse(info.address)
            data, took = await asyncio.to_thread(download, host, port)
            assert len(data) == 40_000
            assert 0.4 <= took < 5.0, took  # 40 kB of data (and a few replies) at 100 kB/s
        finally:
            await engine.shutdown()

    run(main)
