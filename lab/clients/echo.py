"""The echo client: sends text or bytes to a server and collects what comes back.

Like netcat with a reply timer: over TCP it keeps one connection open and
reads until as many bytes came back as were sent (or the wait runs out); over
UDP each send is one datagram and the reply is the next datagram.
"""

from __future__ import annotations

import asyncio

from lab.model import Transport, format_address

REPLY_WAIT = 2.0


class EchoClientError(Exception):
    """Something a user can act on: not connected, refused, timed out."""


class _UdpReceiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.error: Exception | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.error = exc


class EchoClient:
    """A TCP or UDP echo client. ``connect``, then ``send`` as often as needed, then ``close``."""

    def __init__(self, transport: Transport = Transport.TCP) -> None:
        self.transport = transport
        self.local: str = ""
        self.remote: str = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_rx: _UdpReceiver | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None or self._udp is not None

    async def connect(self, host: str, port: int, timeout: float = 5.0) -> None:
        await self.close()
        where = format_address(host, port)
        try:
            if self.transport is Transport.TCP:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), timeout
                )
                self._reader, self._writer = reader, writer
                sock = writer.get_extra_info("sockname")
            else:
                loop = asyncio.get_running_loop()
                rx = _UdpReceiver()
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: rx, remote_addr=(host, port)
                )
                self._udp_rx = rx
                sock = self._udp.get_extra_info("sockname")
        except TimeoutError:
            raise EchoClientError(f"no answer from {where} after {timeout:g} s") from None
        except OSError as exc:
            raise EchoClientError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        self.local = format_address(*sock[:2])
        self.remote = where

    async def send(self, data: bytes, wait: float = REPLY_WAIT) -> bytes:
        """Send ``data``; return what came back within ``wait`` seconds (maybe less)."""
        if self._writer is not None and self._reader is not None:
            try:
                self._writer.write(data)
                await self._writer.drain()
                return await self._collect_tcp(self._reader, len(data), wait)
            except ConnectionError as exc:
                await self.close()
                raise EchoClientError(f"{self.remote}: {exc.strerror or exc}") from None
        if self._udp is not None and self._udp_rx is not None:
            self._udp.sendto(data)
            try:
                return await asyncio.wait_for(self._udp_rx.queue.get(), wait)
            except TimeoutError:
                if self._udp_rx.error is not None:
                    raise EchoClientError(f"{self.remote}: {self._udp_rx.error}") from None
                return b""
        raise EchoClientError("not connected: connect to a server first")

    async def _collect_tcp(self, reader: asyncio.StreamReader, want: int, wait: float) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        got = bytearray()
        while len(got) < want:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                break
            if not chunk:
                await self.close()
                if not got:
                    raise EchoClientError(f"{self.remote} closed the connection")
                break
            got += chunk
        return bytes(got)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
        if self._udp is not None:
            self._udp.close()
            self._udp = None
            self._udp_rx = None


def parse_payload(text: str, as_hex: bool) -> bytes:
    """The bytes a user typed: UTF-8 text, or hex digits (spaces and ``0x`` allowed)."""
    if not as_hex:
        return text.encode("utf-8")
    cleaned = text.replace("0x", "").replace(",", " ").split()
    try:
        return bytes.fromhex("".join(cleaned))
    except ValueError:
        raise ValueError("not hex: use pairs of 0-9 a-f, e.g. 48 65 6c 6c 6f") from None
