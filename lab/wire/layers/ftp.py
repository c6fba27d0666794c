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

The first layer on a link (lab/wire/link.py: ``Layer``); the table in
lab/wire/layers/__init__.py gives it to every ``ftp`` Wire's links.
"""

from __future__ import annotations

import asyncio
from collections import deque

from lab.dissect.ftp_data import (
    FtpDataDissector,
    format_227,
    format_229,
    format_eprt,
    format_port,
    parse_data_address,
)
from lab.model import Piece, Sender, format_address
from lab.wire.link import Send, _TcpLink
from lab.wire.relay import TcpWire

#: A line longer than this is not a control line: it is passed on as it is.
MAX_LINE = 4096
#: A data Wire nobody connects to within this many seconds stops listening.
DATA_WAIT = 60.0
#: Commands whose data connection the helper names.
TRANSFERS = {"RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"}
_WATCHED = {Sender.SERVER: (b"227", b"229"), Sender.CLIENT: (b"PORT", b"EPRT")}


class FtpLayer:
    """Rewrites one control connection's data addresses to Wires of its own."""

    def __init__(self, link: _TcpLink, send: Send) -> None:
        self.link = link
        self.send = send
        self._partial = {sender: bytearray() for sender in Sender}
        self._queue: dict[Sender, deque[bytes | asyncio.Task[bytes]]] = {
            sender: deque() for sender in Sender}
        self.data_wires: list[TcpWire] = []
        self.transfer = ""  # the last transfer command, e.g. "RETR a.pdf"

    # ---- the bytes -------------------------------------------------------------

    def received(self, sender: Sender, data: bytes) -> None:
        buf = self._partial[sender]
        buf += data
        out = bytearray()
        while (end := buf.find(b"\n")) >= 0:
            line = bytes(buf[:end + 1])
            del buf[:end + 1]
            self._note_transfer(sender, line)
            if line[:4].upper().startswith(_WATCHED[sender]):
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
        refusal = self._refusal(sender, address[0])
        if refusal:  # the server will refuse it itself; the Wire opens nothing
            self._capture_note(sender, line, f"Wire left it alone: {refusal}")
            return line
        try:
            wire = await self._open_data_wire(sender, address)
            new = self._new_line(sender, line, wire.address)
        except (OSError, ValueError) as exc:
            self._capture_note(sender, line, f"Wire could not redirect it: {exc}")
            return line
        host, port = address
        was = format_address(host or self.link.wire.target[0], port)
        self._capture_note(sender, new, f"Wire rewrote {line[:4].decode().strip()}: "
                                        f"{was} → {format_address(*wire.address)}")
        return new

    def _refusal(self, sender: Sender, host: str | None) -> str:
        """Why the Wire must not open a data Wire to ``host`` ("" when it may): an
        active-mode address must be the client's own (no FTP bounce), a passive one
        the server's."""
        if host is None:
            return ""
        if sender is Sender.CLIENT:
            transport = self.link.client.transport
            own = transport.get_extra_info("peername")[0] if transport is not None else None
            return "" if host == own else f"{host} is not the client's own address"
        own = self.link.wire.target[0]
        return "" if host == own else f"{host} is not the server's address"

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
        wire = TcpWire(
            control.capture, listen=(listen_host, 0), target=target, protocol="ftp-data",
            node=control.node, parent=conn.id if conn is not None else None,
            dissector=lambda: FtpDataDissector(command=lambda: self.transfer),
            reverse=sender is Sender.CLIENT, one_shot=True, budget=control.budget)
        wire.fault_state = control.fault_state  # the session's faults slow its data too
        await wire.start()
        self.data_wires.append(wire)
        asyncio.get_running_loop().call_later(DATA_WAIT, wire.stop_listening)
        return wire

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

    def _capture_note(self, sender: Sender, raw: bytes, summary: str) -> None:
        conn = self.link.conn
        if conn is None:
            return
        capture = self.link.wire.capture
        piece = Piece(sender=sender, time=capture.clock(), summary=summary, raw=raw,
                      size=len(raw), fields=(("wire", summary),
                                             ("line", raw.decode("latin-1").strip())))
        capture.add(conn, piece, injected=True)

    def close(self) -> None:
        """The control connection ended: its data Wires take no new connections."""
        for wire in self.data_wires:
            wire.stop_listening()


def make(link: _TcpLink, send: Send) -> FtpLayer:
    """The FTP layer of one control connection (see lab/wire/layers/__init__.py)."""
    return FtpLayer(link, send)
