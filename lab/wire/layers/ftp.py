"""The Wire's FTP layer: data connections cross a Wire too, as behind a NAT.

An FTP control connection names addresses for its data connections: the server's
``227``/``229`` replies (passive) and the client's ``PORT``/``EPRT`` commands
(active). Left alone, the data would bypass the Wire, so, like a NAT's FTP
helper, this layer opens a one-connection Wire for each and rewrites the line to
point at it. The rewrite is captured as an injected message beside the
original; each data connection is a Connection whose parent is the control
connection, named after the command it served (``RETR a.pdf: 1.2 MB``).

Lines are passed on in order: while a Wire is being opened for one line, what
follows it in the same direction waits behind it.

No FTP bounce (RFC 2577 §3): the Wire opens an active-mode data Wire only towards the
client's own address (as the Wire sees the client) and a port from 1024 up. Any other
PORT/EPRT gets no data Wire: it is passed on unchanged, for the server to refuse (504),
and the Wire's refusal is captured beside it. Each data Wire it opens is noted for the
server (lab/peers.py: ``opened``), which accepts a loopback data address only when
this control connection's Wire opened it. One data Wire per control connection waits
for its connection: a new one stops the earlier unused ones listening, so a client
sending PASV in a loop holds one socket, not thousands; a data Wire that cannot be
opened (no free sockets) is a note, and the line goes on unchanged.

Active mode (PORT, EPRT) is captured as the client saw it: the server side of the data
connection is the Wire's socket that connected to the client (the FTP server's data
port as the client sees it), the client side the address the client named; the roles
stay FTP's (the FTP server is the server) and the data Messages say the server opened
it (field ``opened by``). The server's reply to PORT/EPRT names the address it
connected to, the Wire's: the Wire writes the client's own address back into it, as it
wrote the data Wire's into the command. A rewritten 227/229 or reply is what the client
got (field ``line``, which the pcapng export puts in place of the original); a
rewritten PORT/EPRT is what the server got (field ``sent to the server``): the client's
own line is what crossed the captured connection.

The first layer on a link (lab/wire/link.py: ``Layer``); the table in
lab/wire/layers/__init__.py gives it to every ``ftp`` Wire's links.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import replace
from typing import Any

from lab import peers
from lab.capture import Capture
from lab.dissect.ftp_data import (
    FtpDataDissector,
    format_227,
    format_229,
    format_eprt,
    format_port,
    parse_data_address,
)
from lab.model import ConnectionOpened, Piece, Sender, format_address
from lab.wire.link import Send, _TcpLink
from lab.wire.relay import TcpWire

#: A line longer than this is not a control line: it is passed on as it is.
MAX_LINE = 4096
#: A data Wire nobody connects to within this many seconds stops listening.
DATA_WAIT = 60.0
#: The data Wires whose address the layer writes back into replies (the latest).
WRITE_BACKS = 8
#: Active-mode data ports below this are refused (RFC 2577 §3: well-known services).
FIRST_DATA_PORT = 1024
#: Commands whose data connection the helper names.
TRANSFERS = {"RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"}
_WATCHED = {Sender.SERVER: (b"227", b"229"), Sender.CLIENT: (b"PORT", b"EPRT")}
#: Who opened an active-mode data connection (the data Messages' ``opened by`` field).
OPENED_BY_SERVER = "the server (active mode: it connected to the client's PORT/EPRT address)"


class DataWire(TcpWire):
    """The one-connection Wire of a data connection. (A side that resets it, a client
    that stops reading as ``curl -r 0-99`` does, is passed on as a reset by every
    link, lab/wire/link.py: the server then answers 426, not 226, as it would were
    the client its direct peer.)"""


class ActiveDataWire(DataWire):
    """The one-connection Wire of an active-mode data connection: the FTP server
    connects to it, it connects on to the client. Its Connection is captured as the
    client saw it: the client's data address (``stands_for``) and, once the Wire has
    connected to it, the Wire's own end of that socket as the server's address."""

    def __init__(self, capture: Capture, **kwargs: Any) -> None:
        super().__init__(capture, reverse=True, **kwargs)
        self.stands_for = self.target

    def upstream_done(self, client: str, note: str) -> None:
        if not note:
            for link in self.links:
                conn = link.conn
                transport = link.server.transport
                if conn is not None and conn.client == client and transport is not None:
                    sockname = transport.get_extra_info("sockname")
                    if sockname:
                        readdress(link, format_address(*sockname[:2]))
        super().upstream_done(client, note)


def readdress(link: _TcpLink, server: str) -> None:
    """Give the link's Connection (open, no Messages yet) its server address and the
    time the client saw it open, announced again (ConnectionOpened with the same id:
    the views, stores and JSON Lines readers take the later one)."""
    conn = link.conn
    if conn is None or conn.server == server:
        return
    capture = link.wire.capture
    new = replace(conn, server=server, opened=capture.clock())
    capture.connections[conn.id] = new
    link.tap.conn = new
    capture.publish(ConnectionOpened(new))


class FtpLayer:
    """Rewrites one control connection's data addresses to Wires of its own."""

    def __init__(self, link: _TcpLink, send: Send) -> None:
        self.link = link
        self.send = send
        self._partial = {sender: bytearray() for sender in Sender}
        self._queue: dict[Sender, deque[bytes | asyncio.Task[bytes]]] = {
            sender: deque() for sender in Sender}
        #: The data Wires still in use or waiting for their connection (the latest).
        self.data_wires: list[TcpWire] = []
        self._timers: dict[TcpWire, asyncio.TimerHandle] = {}
        #: Data Wires open one at a time, in the order of their lines (the last one
        #: opened is the one the client was told of last).
        self._opening = asyncio.Lock()
        self._closed = False
        #: The Wire's socket to the server (the server's peer address for this control
        #: connection), under which the data Wires are noted (lab/peers.py).
        self._control: tuple[str, int] | None = None
        self.transfer = ""  # the last transfer command, e.g. "RETR a.pdf"
        #: After a rewritten PORT/EPRT: the data Wire's address (as the server's replies
        #: name it: 200, 425) → the client's own, to write back into those replies.
        self._write_backs: dict[str, str] = {}

    # ---- the bytes -------------------------------------------------------------

    def received(self, sender: Sender, data: bytes) -> None:
        buf = self._partial[sender]
        buf += data
        out = bytearray()
        while (end := buf.find(b"\n")) >= 0:
            line = bytes(buf[:end + 1])
            del buf[:end + 1]
            self._note_transfer(sender, line)
            back = self._named(sender, line)
            if back is not None:
                self._emit(sender, bytes(out))
                out.clear()
                self._emit(sender, asyncio.get_running_loop().create_task(
                    self._write_back(line, *back)))
            elif line[:4].upper().startswith(_WATCHED[sender]):
                self._emit(sender, bytes(out))
                out.clear()
                self._emit(sender, asyncio.get_running_loop().create_task(
                    self._rewrite(sender, line)))
            else:
                out += line
        if len(buf) > MAX_LINE:
            out += buf
            buf.clear()
        self._emit(sender, bytes(out))

    def flush(self, sender: Sender) -> None:
        """The side said EOF: pass on any half line it left."""
        buf = self._partial[sender]
        if buf:
            self._emit(sender, bytes(buf))
            buf.clear()

    def _note_transfer(self, sender: Sender, line: bytes) -> None:
        if sender is Sender.CLIENT:
            text = line.decode("utf-8", errors="replace").strip()
            if text.split(" ", 1)[0].upper() in TRANSFERS:
                self.transfer = text

    def _named(self, sender: Sender, line: bytes) -> tuple[str, str] | None:
        """The (data Wire, client) addresses of a server reply naming a data Wire."""
        if sender is Sender.SERVER and self._write_backs and _final(line):
            for wire, own in self._write_backs.items():
                if wire.encode() in line:
                    return wire, own
        return None

    async def _write_back(self, line: bytes, wire: str, own: str) -> bytes:
        """The server's reply to a rewritten PORT/EPRT, naming the client's address
        ``own`` where it named the data Wire's (captured as the Wire's rewrite, after
        the reply: a task runs once the tap has captured what the server sent)."""
        text = line.decode("latin-1")
        new = text.replace(wire, own).encode("latin-1")
        self._capture_note(Sender.SERVER, new, f"Wire rewrote {text[:3]}: {wire} → {own}")
        return new

    def _emit(self, sender: Sender, item: bytes | asyncio.Task[bytes]) -> None:
        if isinstance(item, bytes) and not item:
            return
        queue = self._queue[sender]
        queue.append(item)
        if isinstance(item, asyncio.Task):
            item.add_done_callback(lambda _: self._drain(sender))
        self._drain(sender)

    def _drain(self, sender: Sender) -> None:
        queue = self._queue[sender]
        while queue:
            head = queue[0]
            if isinstance(head, asyncio.Task):
                if not head.done():
                    return
                data = head.result()
            else:
                data = head
            queue.popleft()
            self.send(sender, data)

    # ---- the rewrite -------------------------------------------------------------

    async def _rewrite(self, sender: Sender, line: bytes) -> bytes:
        """The line pointing at a new data Wire; the line unchanged if that fails."""
        address = parse_data_address(line)
        if address is None:
            return line
        refusal = self._refusal(sender, *address)
        if refusal:  # the server will refuse it itself; the Wire opens nothing
            self._capture_note(sender, line, refusal,
                               "refused" if sender is Sender.CLIENT else "wire")
            return line
        try:
            wire = await self._open_data_wire(sender, address)
            new = self._new_line(sender, line, wire.address)
        except _Closed:
            return line  # nobody is left to send it to
        except (OSError, ValueError, IndexError, RuntimeError) as exc:
            # IndexError: no socket could be made (asyncio's create_server skips a
            # family it cannot open, as at the open-file limit, and listens on none)
            why = str(exc) if isinstance(exc, (OSError, ValueError)) and str(exc) else \
                "no free socket (the open-file limit?)"
            self._capture_note(sender, line, f"Wire could not open a data path: {why}",
                               "data path")
            return line
        host, port = address
        was = format_address(host or self.link.wire.target[0], port)
        now = format_address(*wire.address)
        if sender is Sender.CLIENT:
            self._write_backs[now] = was
            while len(self._write_backs) > WRITE_BACKS:
                del self._write_backs[next(iter(self._write_backs))]
        self._capture_note(sender, new, f"Wire rewrote {line[:4].decode().strip()}: "
                                        f"{was} → {now}")
        return new

    def _refusal(self, sender: Sender, host: str | None, port: int) -> str:
        """The Wire's note when it must not open a data Wire to ``host:port`` ("" when
        it may): an active-mode address must be the client's own and not a privileged
        port (no FTP bounce, RFC 2577 §3), a passive one the server's."""
        if sender is Sender.CLIENT:
            transport = self.link.client.transport
            peer = transport.get_extra_info("peername") if transport is not None else None
            own = str(peer[0]) if peer else "?"
            if host is not None and not peers.same_host(host, own):
                return (f"Wire refused a bounce: {host} is not the client's own address "
                        f"({own})")
            if port < FIRST_DATA_PORT:
                return (f"Wire refused a privileged data port: {port} is below "
                        f"{FIRST_DATA_PORT}")
            return ""
        if host is None:
            return ""
        own = self.link.wire.target[0]
        return "" if host == own else f"Wire left it alone: {host} is not the server's address"

    async def _open_data_wire(self, sender: Sender, address: tuple[str | None, int]) -> TcpWire:
        control = self.link.wire
        host, port = address
        legs = (self.link.client, self.link.server)
        # Passive: the client connects where the client reached us. Active: the
        # server connects where the server sees us.
        near = legs[0] if sender is Sender.SERVER else legs[1]
        assert near.transport is not None
        listen_host = near.transport.get_extra_info("sockname")[0]
        target = (host or control.target[0], port)
        conn = self.link.conn
        active = sender is Sender.CLIENT
        kind = ActiveDataWire if active else DataWire
        opened_by = OPENED_BY_SERVER if active else ""
        wire = kind(
            control.capture, listen=(listen_host, 0), target=target, protocol="ftp-data",
            node=control.node, parent=conn.id if conn is not None else None,
            dissector=lambda: FtpDataDissector(command=lambda: self.transfer,
                                               opened_by=opened_by),
            one_shot=True, budget=control.budget)
        wire.fault_state = control.fault_state  # the session's faults slow its data too
        async with self._opening:
            if self._closed:  # the control connection ended while this line waited
                raise _Closed
            await wire.start()
            if self._closed:
                await wire.stop()
                raise _Closed
            self._stop_waiting()  # one data Wire waits at a time: the new one
            self.data_wires.append(wire)
        self._timers[wire] = asyncio.get_running_loop().call_later(
            DATA_WAIT, self._stop_one, wire)
        if active:
            server = self.link.server.transport
            sockname = server.get_extra_info("sockname") if server is not None else None
            if sockname:
                self._control = (str(sockname[0]), int(sockname[1]))
                peers.opened(self._control, wire.address, lambda: wire.listening)
        return wire

    def _stop_one(self, wire: TcpWire) -> None:
        wire.stop_listening()
        self._timers.pop(wire, None)

    def _stop_waiting(self) -> None:
        """The earlier data Wires stop listening (those nobody connected to are let go;
        those carrying a transfer go on, and are let go once it ended)."""
        kept = []
        for wire in self.data_wires:
            wire.stop_listening()
            timer = self._timers.pop(wire, None)
            if timer is not None:
                timer.cancel()
            if wire.links:
                kept.append(wire)
        self.data_wires = kept

    def _new_line(self, sender: Sender, line: bytes, at: tuple[str, int]) -> bytes:
        host, port = at
        verb = line[:4].upper().strip()
        if verb == b"227":
            return format_227(host, port)
        if verb == b"229":
            return format_229(port)
        if verb == b"PORT":
            return format_port(host, port)
        return format_eprt(host, port)

    def _capture_note(self, sender: Sender, raw: bytes, summary: str,
                      field: str = "wire") -> None:
        """The Wire's rewrite as an injected Message: ``line`` is what the client got
        instead (a reply), ``sent to the server`` what the server got (a command).
        ``field``: "refused" for a data address the Wire would not open a path to,
        "data path" for one it could not (no free socket)."""
        conn = self.link.conn
        if conn is None:
            return
        capture = self.link.wire.capture
        key = "line" if sender is Sender.SERVER else "sent to the server"
        piece = Piece(sender=sender, time=capture.clock(), summary=summary, raw=raw,
                      size=len(raw), fields=((field, summary),
                                             (key, raw.decode("latin-1").strip())))
        capture.add(conn, piece, injected=True)

    def close(self) -> None:
        """The control connection ended: its data Wires take no new connections, and
        lines still waiting for one open none."""
        self._closed = True
        self._stop_waiting()
        self.data_wires.clear()


class _Closed(Exception):
    """The control connection ended while a data Wire was being opened for it."""


def _final(line: bytes) -> bool:
    """A reply's last line (``200 …``), not a ``200-`` continuation or a 1xx."""
    return len(line) >= 4 and line[:3].isdigit() and line[3:4] == b" " and line[:1] != b"1"


def make(link: _TcpLink, send: Send) -> FtpLayer:
    """The FTP layer of one control connection (see lab/wire/layers/__init__.py)."""
    return FtpLayer(link, send)
