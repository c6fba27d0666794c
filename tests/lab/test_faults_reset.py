"""Reset at message N (lab/wire/faults.py, lab/wire/link.py), over real sockets on
127.0.0.1: an HTTP keep-alive connection through the Wire gets its first exchange
whole, and its second request is never forwarded; the connection is reset."""

from __future__ import annotations

import asyncio

import pytest

from lab.engine import Engine
from lab.wire.faults import Faults
from tests.lab.helpers import run
from tests.lab.test_faults import injected, parse
from tests.lab.test_wire import until


async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """One keep-alive GET /; the response's status line."""
    writer.write(b"GET / HTTP/1.1\r\nHost: lab.test\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    return head.split(b"\r\n", 1)[0]


def test_a_bad_message_number_is_refused() -> None:
    assert Faults().changed(reset_at_message=3).reset_at_message == 3
    with pytest.raises(ValueError, match="reset at message"):
        Faults().changed(reset_at_message=-1)


def test_reset_at_message_3_answers_the_first_request_and_resets_the_second() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await engine.add_server("http", port=0)
            engine.wire_board.set_faults(info.id, reset_at_message=3)
            reader, writer = await asyncio.open_connection(*parse(info.address))
            assert await get(reader, writer) == b"HTTP/1.1 200 OK"
            with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
                await get(reader, writer)
            writer.close()
            capture = engine.capture
            await until(lambda: all(c.closed is not None
                                    for c in capture.connections.values()))
            conn = next(iter(capture.connections.values()))
            assert [m.summary for m in capture.messages if m.connection == conn.id] == [
                "GET /", "200 OK", "GET /", "Wire reset the connection at message 3"]
            assert injected(capture) == ["Wire reset the connection at message 3"]
            assert conn.note == "reset by the Wire at message 3"
            # a new connection counts from 1 again: its first exchange goes through
            reader, writer = await asyncio.open_connection(*parse(info.address))
            assert await get(reader, writer) == b"HTTP/1.1 200 OK"
            writer.close()
        finally:
            await engine.shutdown()

    run(main)
