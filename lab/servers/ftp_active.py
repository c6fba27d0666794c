"""Active-mode FTP for aioftp's server: PORT and EPRT, which aioftp lacks.

In active mode the client listens and names its data address; the server connects
to it. Like vsftpd, the server answers 200 at once (naming the address it will connect
to) and connects when the next LIST/RETR/STOR begins (425 if it cannot), so the data
connection follows the reply, as Wireshark expects to link it to the PORT.

No FTP bounce (RFC 2577 §3): connecting to a third host, or to the server's own
machine's other services, on a client's word is the "FTP bounce" attack. The server
decides with the real client (lab/peers.py): behind its Wire it accepts only a data
Wire that Wire opened for this very control connection (lab/peers.py) or
the real client's own address; reached directly, only the client's own address. A
port below 1024 is always refused. A refusal is answered 504 (RFC 2577 §3) and
counted (``BOUNCE``, ``PRIVILEGED``) for the server's panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Callable

from aioftp.common import Connection, ThrottleStreamIO

from lab import peers

CONNECT_TIMEOUT = 5.0
#: Data ports below this are refused (the well-known services' ports).
FIRST_DATA_PORT = 1024
#: The reasons the server's panel counts (lab/servers/guard.py: Refusals).
BOUNCE = "FTP bounce attempts"
PRIVILEGED = "privileged data ports"


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


def refusal(connection: Connection, host: str, port: int) -> tuple[str, str] | None:
    """Why the server will not connect to ``host:port``: (the reason counted, the
    reply's text); None: it will."""
    peer = (connection.client_host, connection.client_port)
    client = peers.client_host(peer)
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if port < FIRST_DATA_PORT:
        return PRIVILEGED, (f"refused: {port} is a privileged port (below "
                            f"{FIRST_DATA_PORT}); a server connects to no such port on a "
                            "client's word (FTP bounce, RFC 2577)")
    if peers.was_opened(peer, (host, port)):
        return None  # the data Wire the Wire opened for this connection
    if peers.same_host(host, client):
        return None
    return BOUNCE, (f"refused: {where} is not your own address ({client}); connecting "
                    "there on your word would be an FTP bounce (RFC 2577)")


async def open_active(connection: Connection, verb: str, rest: str,
                      count: Callable[[str], None] = lambda _reason: None) -> None:
    """Handle PORT or EPRT: note the client's data address (the next transfer connects
    to it), reply 200 or an error; ``count`` counts a refusal by its reason."""
    parsed = parse_port(rest) if verb == "PORT" else parse_eprt(rest)
    if isinstance(parsed, str):
        connection.response("501", parsed)
        return
    host, port = parsed
    why = refusal(connection, host, port)
    if why is not None:
        reason, text = why
        count(reason)
        connection.response("504", f"{verb} {text}")
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
