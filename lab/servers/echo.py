"""TCP and UDP echo servers: they send back every byte they receive.

Each listens on 127.0.0.1 at a port the system picks; the user reaches it
through its Wire.
"""

from __future__ import annotations

import asyncio
from typing import cast

from lab.datagram import send_datagram
from lab.servers import Backend
from lab.wire.leg import cap_unsent


class _TcpEcho(asyncio.Protocol):
    def __init__(self, live: set[asyncio.Transport]) -> None:
        self.live = live

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.live.add(transport)
        # a client that sends and never reads: the echo waits unsent in at most this
        # much of the kernel's buffer, then reading pauses (pause_writing below)
        cap_unsent(transport.get_extra_info("socket"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.live.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False  # close our side too once the client has said it is done

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


class TcpEchoBackend:
    def __init__(self) -> None:
        self.live: set[asyncio.Transport] = set()
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _TcpEcho(self.live), "127.0.0.1", 0)
        self.address = self._server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        """Stop listening and cut the connections still open."""
        if self._server is not None:
            self._server.close()
            for transport in list(self.live):
                transport.abort()
            await self._server.wait_closed()


async def start_tcp_echo(options: dict[str, str]) -> Backend:
    backend = TcpEchoBackend()
    await backend.start()
    return backend


class _UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        send_datagram(self.transport, data, addr)  # an empty one too


class UdpEchoBackend:
    def __init__(self, transport: asyncio.DatagramTransport) -> None:
        self._transport = transport
        self.address: tuple[str, int] = transport.get_extra_info("sockname")[:2]

    async def close(self) -> None:
        self._transport.close()
        await asyncio.sleep(0)


async def start_udp_echo(options: dict[str, str]) -> Backend:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_UdpEcho, local_addr=("127.0.0.1", 0))
    return UdpEchoBackend(transport)
