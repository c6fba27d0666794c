"""Sending a UDP datagram, an empty one included."""

from __future__ import annotations

import asyncio
import socket


def send_datagram(transport: asyncio.DatagramTransport, data: bytes,
                  addr: tuple[str, int] | None = None) -> None:
    """``transport.sendto(data, addr)``, an empty ``data`` included: asyncio (before
    Python 3.13) drops an empty datagram, so that one goes out on the transport's socket
    directly; an error goes to the protocol's ``error_received``, as asyncio's would."""
    if data:
        transport.sendto(data, addr)
        return
    sock = transport.get_extra_info("socket")
    if sock is None or transport.is_closing():
        return
    try:
        with socket.fromfd(sock.fileno(), sock.family, sock.type) as raw:
            if addr is None:
                raw.send(b"")
            else:
                raw.sendto(b"", addr)
    except OSError as exc:
        protocol = transport.get_protocol()
        if isinstance(protocol, asyncio.DatagramProtocol):
            protocol.error_received(exc)
