"""Layers on a TCP link (lab/wire/layers): each sees every chunk of each direction in
order and passes it on, maybe rewritten; the capture keeps what the Wire received;
a protocol's layer modules load only when a Wire of that protocol is made."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from lab.capture import Capture
from lab.model import Sender
from lab.wire import layers
from lab.wire.link import Send, _TcpLink
from tests.lab.helpers import EchoServer, run
from tests.lab.test_wire import wired

#: What the layers saw, in order: (layer, sender, bytes).
SEEN: list[tuple[str, Sender, bytes]] = []


class _Upper:
    """Upper-cases what the client sends; passes the server's bytes on as they are."""

    def __init__(self, link: _TcpLink, send: Send) -> None:
        self.send = send
        self.closed = False

    def received(self, sender: Sender, data: bytes) -> None:
        SEEN.append(("upper", sender, data))
        self.send(sender, data.upper() if sender is Sender.CLIENT else data)

    def flush(self, sender: Sender) -> None:
        pass

    def close(self) -> None:
        SEEN.append(("upper", Sender.CLIENT, b"<closed>"))


class _Mark:
    """Adds a mark to each chunk the server sends, after what ``_Upper`` passed on."""

    def __init__(self, link: _TcpLink, send: Send) -> None:
        self.send = send

    def received(self, sender: Sender, data: bytes) -> None:
        SEEN.append(("mark", sender, data))
        self.send(sender, data + b"!" if sender is Sender.SERVER else data)

    def flush(self, sender: Sender) -> None:
        pass

    def close(self) -> None:
        pass


def make(link: _TcpLink, send: Send) -> _Upper:
    return _Upper(link, send)


@pytest.fixture
def test_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the ``raw`` protocol two layers: this module's ``make`` and ``_Mark``."""
    SEEN.clear()
    monkeypatch.setattr(layers, "_loaded", {"raw": (make, _Mark)})


@pytest.mark.usefixtures("test_layers")
def test_layers_rewrite_in_order_and_the_capture_keeps_what_came() -> None:
    async def main() -> None:
        capture = Capture()
        async with EchoServer() as echo, wired(echo.port, capture) as wire:
            reader, writer = await asyncio.open_connection(*wire.address)
            writer.write(b"hello\n")
            # client → _Upper → _Mark → server (echoes "HELLO\n") → _Upper → _Mark → client
            assert await asyncio.wait_for(reader.readexactly(7), 5) == b"HELLO\n!"
            writer.close()
            await writer.wait_closed()
            await asyncio.wait_for(wire.stop(), 5)
        assert [(name, sender) for name, sender, _ in SEEN] == [
            ("upper", Sender.CLIENT), ("mark", Sender.CLIENT),
            ("upper", Sender.SERVER), ("mark", Sender.SERVER), ("upper", Sender.CLIENT)]
        assert SEEN[1][2] == b"HELLO\n" and SEEN[-1][2] == b"<closed>"
        raws = [m.raw for m in capture.messages if not m.injected]
        assert raws[0] == b"hello\n"  # what the client sent, before the layers

    run(main)


def test_layers_for_loads_the_table_modules_once() -> None:
    ftp = layers.layers_for("ftp")
    assert [f.__module__ for f in ftp] == ["lab.wire.layers.ftp"]
    assert layers.layers_for("ftp") is ftp
    assert layers.layers_for("http") == ()


def test_the_ftp_layer_loads_only_with_an_ftp_wire() -> None:
    code = ("import sys, lab.engine, lab.wire\n"
            "assert 'lab.wire.layers.ftp' not in sys.modules\n"
            "from lab.capture import Capture\n"
            "lab.wire.TcpWire(Capture(), listen=('127.0.0.1', 0), target=('127.0.0.1', 1),"
            " protocol='ftp')\n"
            "assert 'lab.wire.layers.ftp' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
