"""A UDP Wire at its cap: a quiet session makes room for a new client (lab/wire/udp.py),
so a burst of source addresses keeps others out only while it lasts."""

from __future__ import annotations

import asyncio

import pytest

from lab.capture import Capture
from lab.lan import Caps
from lab.servers.echo import start_udp_echo
from lab.wire import UdpWire
from lab.wire import udp as wire_udp
from tests.lab.helpers import run
from tests.lab.test_wire_udp import _ask, _udp_client


def test_a_quiet_session_makes_room_and_a_busy_one_does_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire_udp, "UDP_YIELD", 0.3)

    async def main() -> None:
        capture = Capture()
        backend = await start_udp_echo({})
        wire = UdpWire(capture, listen=("127.0.0.1", 0), target=backend.address,
                       protocol="udp-echo")
        wire.caps = Caps(total=1)
        await wire.start()
        flood, late, later = [await _udp_client(wire.address) for _ in range(3)]
        assert await _ask(flood, b"one") == b"one"
        late[0].sendto(b"too soon")  # the flood's session has just spoken: refused
        await asyncio.sleep(0.1)
        assert late[1].got.empty()
        await asyncio.sleep(0.4)  # the flood has gone quiet
        assert await _ask(later, b"room now") == b"room now"
        notes = [m.summary for m in capture.messages if m.injected]
        assert notes == ["Wire refused 127.0.0.1: more than 1 connection in all",
                         "Wire ended this quiet session to make room: "
                         "more than 1 connection in all"]
        ended = [c for c in capture.connections.values() if c.closed is not None]
        assert [c.note.startswith("ended by the Wire to make room") for c in ended
                if c.client == capture.messages[0].client] == [True]
        for transport, _ in (flood, late, later):
            transport.close()
        await wire.stop()
        await backend.close()

    run(main)
