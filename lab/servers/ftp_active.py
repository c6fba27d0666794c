"""Active-mode FTP for aioftp's server: PORT and EPRT, which aioftp lacks.

In active mode the client listens and names its data address; the server connects
to it. Like vsftpd, the server answers 200 at once (naming the address it will connect
to) and connects when the next LIST/RETR/STOR begins (425 if it cannot), so the data
connection follows the reply, as Wireshark expects to link it to the PORT. Only the
client's own address (or a loopback one, where the lab's Wires live) is accepted:
connecting to a third host on a client's word is the "FTP bounce" attack.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

from aioftp.common import Connection, ThrottleStreamIO

CONNECT_TIMEOUT = 5.0


def parse_port(rest: str) -> tuple[str, int] | str:
    """``h1,h2,h3,h4,p1,p2`` → (host, port), or the reason it is not one."""
    try:
        numbers = [int(part) for part in rest.strip().split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 6 or not all(0 <= n <= 255 for n in numbers):
        return "PORT wants six numbers 0-255: h1,h2,h3,h4,p1,p2 (port = p1*256 + p2)"
    return ".".join(map(str, numbers[:4])), numbers[4] * 256 + numbers[5]


def parse_eprt(rest: str) -> tuple[str, int] | str:
    """``|1|127.0.0.1|5000|`` (or ``|2|::1|5000|``) → (host, port), or the reason."""
    usage = "EPRT wants |1|IPv4 address|port| or |2|IPv6 address|port|"
    rest = rest.strip()
    if len(rest) < 2:
        return usage
    fields = rest.split(rest[0])
    if len(fields) != 5 or fields[0] or fields[4] or fields[1] not in ("1", "2"):
        return usage
    try:
        address = ipaddress.ip_address(fields[2])
        port = int(fields[3])
    except ValueError:
        return usage
    if address.version != {"1": 4, "2": 6}[fields[1]] or not 0 < port < 65536:
        return usage
    return str(address), port


def refusal(connection: Connection, host: str, port: int) -> str | None:
    """Why the server will not connect to ``host:port`` (None: it will)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"{host} is not an IP address"
    if not (address.is_loopback or host == connection.client_host):
        return (f"refusing to connect to {host}: the data address must be the client's "
                f"own ({connection.client_host}); connecting elsewhere would be FTP bounce")
    if port < 1024:
        return f"refusing to connect to the privileged port {port}"
    return None


async def open_active(connection: Connection, verb: str, rest: str) -> None:
    """Handle PORT or EPRT: note the client's data address (the next transfer connects
    to it), reply 200 or an error."""
    parsed = parse_port(rest) if verb == "PORT" else parse_eprt(rest)
    if isinstance(parsed, str):
        connection.response("501", parsed)
        return
    host, port = parsed
    why = refusal(connection, host, port)
    if why is not None:
        connection.response("501", why)
        return
    forget_data(connection)
    connection.active_address = (host, port)
    connection.response("200", f"{verb} OK: the server will connect to your data port "
                               f"{host}:{port} when a transfer begins")


def forget_data(connection: Connection) -> None:
    """A new PORT, EPRT, PASV or EPSV: an unused data connection or address goes."""
    if connection.future.active_address.done():
        del connection.active_address
    if connection.future.data_connection.done():
        with contextlib.suppress(Exception):
            connection.data_connection.close()
        del connection.data_connection


async def connect_active(connection: Connection) -> ThrottleStreamIO | None:
    """The data connection to the address of the last PORT/EPRT (used up); None when
    it could not be opened (425 sent)."""
    host, port = connection.active_address
    del connection.active_address
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        connection.response("425", f"could not open the data connection to {host}:{port} "
                                   f"({getattr(exc, 'strerror', None) or 'timed out'})")
        return None
    return ThrottleStreamIO(reader, writer, throttles=connection.command_connection.throttles,
                            timeout=connection.socket_timeout)
