"""The Wire's slow-client guard (lab/wire/relay.py): slowloris is cut once it crowds the
Wire; slow uploads, stepping and a person typing on a Wire with room are not.
In-process, with the guard's times made short."""

from __future__ import annotations

import asyncio

from lab.capture import Capture
from lab.lan import Caps
from lab.servers.echo import start_tcp_echo
from lab.wire import TcpWire
from tests.lab.helpers import run

SLOW_NOTE = "Wire closed a slow client"


async def _wire(capture: Capture, caps: Caps) -> tuple[TcpWire, object]:
    backend = await start_tcp_echo({})
    wire = TcpWire(capture, listen=("127.0.0.1", 0), target=backend.address, protocol="smtp")
    wire.slow_after, wire.min_rate = 0.5, 100.0
    wire.caps = caps
    await wire.start()
    return wire, backend


async def _trickle(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, data: bytes,
                   pause: float) -> asyncio.Task[bytes]:
    """Send ``data`` a byte at a time until the Wire closes on us; the task that reads
    what comes back until the end (done once the Wire has closed)."""
    echoed = asyncio.get_running_loop().create_task(reader.read())
    for byte in data:
        if echoed.done():
            break
        writer.write(bytes([byte]))
        await asyncio.sleep(pause)
    return echoed


def test_a_slowloris_client_is_cut_with_a_note_and_others_go_on() -> None:
    async def main() -> None:
        capture = Capture()
        wire, backend = await _wire(capture, Caps(total=4))  # two of four: crowded
        reader, writer = await asyncio.open_connection(*wire.address)
        steady_r, steady_w = await asyncio.open_connection(*wire.address)
        echoed = await _trickle(writer, reader, b"EHLO slowly.example" * 4, 0.1)
        assert (await asyncio.wait_for(echoed, 5)).startswith(b"EHLO")  # then the end
        steady_w.write(b"NOOP\r\n")
        assert await asyncio.wait_for(steady_r.readline(), 5) == b"NOOP\r\n"
        notes = [m.summary for m in capture.messages if m.injected]
        assert len(notes) == 1 and notes[0].startswith(SLOW_NOTE), notes
        closed = [c for c in capture.connections.values() if c.closed is not None]
        assert [c.note for c in closed] == [closed[0].note]
        assert closed[0].note.startswith("closed by the Wire: message incomplete")
        for w in (writer, steady_w):
            w.close()
        await wire.stop()
        await backend.close()  # type: ignore[attr-defined]

    run(main)


def test_a_person_typing_on_a_wire_with_room_is_not_cut() -> None:
    async def main() -> None:
        capture = Capture()
        wire, backend = await _wire(capture, Caps(per_client=4))  # one of four: room
        reader, writer = await asyncio.open_connection(*wire.address)
        echoed = await _trickle(writer, reader, b"HELO by hand", 0.1)
        assert not echoed.done()
        writer.write(b"\r\n")
        writer.write_eof()
        assert await asyncio.wait_for(echoed, 5) == b"HELO by hand\r\n"
        assert not any(m.injected for m in capture.messages)
        writer.close()
        await wire.stop()
        await backend.close()  # type: ignore[attr-defined]

    run(main)


def test_a_slow_but_steady_upload_and_a_stepping_wire_are_not_cut() -> None:
    async def main() -> None:
        capture = Capture()
        wire, backend = await _wire(capture, Caps(total=2))
        reader, writer = await asyncio.open_connection(*wire.address)
        for _ in range(15):  # 2,000 bytes a second of one long line: slow, not a slowloris
            writer.write(b"x" * 200)
            await asyncio.sleep(0.1)
        writer.write(b"\r\n")
        echoed = await asyncio.wait_for(reader.readexactly(3002), 5)
        assert echoed.endswith(b"x\r\n")
        wire.set_step(True)  # held chunks wait for the presenter, however long
        stepping_r, stepping_w = await asyncio.open_connection(*wire.address)
        answer = await _trickle(stepping_w, stepping_r, b"HELO", 0.4)
        assert not answer.done()
        assert len(wire.holds) == 1
        wire.set_step(False)
        answer.cancel()
        assert not any(m.summary.startswith(SLOW_NOTE) for m in capture.messages)
        for w in (writer, stepping_w):
            w.close()
        await wire.stop()
        await backend.close()  # type: ignore[attr-defined]

    run(main)
