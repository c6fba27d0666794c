"""The tap: where a Wire looks at what crosses it, for TCP links and UDP sessions alike.

One Tap per connection (a TCP link, a UDP session): it feeds each chunk to the
connection's dissector, captures the Messages that make (flagged ``held`` in
step mode), holds a chunk on the Wire's HoldQueue (lab/wire/hold.py) until the
user forwards, edits or drops it, and at the end captures what the dissector
still had and closes the Connection. The Tap is the owner of its held chunks:
``forget`` (or ``close``) lets them go nowhere.

What goes on with the bytes (layers, faults, writing) is the link's or the
session's; the Tap only looks, records and holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lab.capture import Capture
from lab.dissect import Dissector
from lab.model import RAW_LIMIT, Connection, Piece, Sender
from lab.wire.hold import HeldMessage, HoldQueue


def held_note(size: int) -> str:
    """The summary of the Wire's note for a held chunk that completes no message: what
    is true of it while held and after (the UI marks it held, then stepped)."""
    return f"{size:,} byte{'' if size == 1 else 's'} of a message, read and held by the Wire"


class TapWire(Protocol):
    """What a Tap uses of its Wire (lab/wire/base.py: ``_WireBase``)."""

    capture: Capture
    step: bool
    wire_id: str
    holds: HoldQueue

    def inject(self, conn: Connection, sender: Sender, summary: str, *,
               raw: bytes = b"", held: bool = False) -> int: ...


class Tap:
    """Dissects, captures and holds one connection's chunks (``conn`` once it is open)."""

    __slots__ = ("_flushed", "conn", "dissector", "wire")

    def __init__(self, wire: TapWire, dissector: Dissector,
                 conn: Connection | None = None) -> None:
        self.wire = wire
        #: The slow-client guard (lab/wire/relay.py) may wrap it to watch the client.
        self.dissector = dissector
        self.conn = conn
        self._flushed = False

    def dissect(self, sender: Sender, data: bytes) -> list[Piece]:
        """The Messages ``data`` from ``sender`` completes (or begins), not yet captured."""
        return self.dissector.feed(sender, data, self.wire.capture.clock())

    def capture(self, pieces: list[Piece], *, held: bool = False) -> list[int]:
        """Capture dissected pieces as Messages of this connection; their ids."""
        conn = self.conn
        assert conn is not None
        add = self.wire.capture.add
        return [add(conn, piece, held=held).id for piece in pieces]

    def see(self, sender: Sender, data: bytes) -> list[int]:
        """Dissect and capture a chunk (flagged held in step mode); the Messages' ids."""
        return self.capture(self.dissect(sender, data), held=self.wire.step)

    def hold(self, sender: Sender, data: bytes, ids: list[int], *,
             release: Callable[[bytes], None], drop: Callable[[int], None]) -> HeldMessage:
        """Hold a chunk whose Messages are ``ids`` (none: part of a message, captured
        as the Wire's note ``held_note``): ``release(data)`` sends the bytes on
        (edited or not), ``drop(id)`` discards it."""
        wire, conn = self.wire, self.conn
        assert conn is not None
        if not ids:  # part of a message: the capture shows the held bytes anyway, as
            # the Wire's note (injected and held: read by the Wire, not delivered yet)
            ids = [wire.inject(conn, sender, held_note(len(data)),
                               raw=data[:RAW_LIMIT], held=True)]
        summary = " · ".join(m.summary for m in wire.capture.messages[ids[0] - 1:ids[-1]]
                             if m.connection == conn.id)
        held = HeldMessage(id=ids[-1], node=wire.wire_id, connection=conn.id, sender=sender,
                           summary=summary, data=data, time=wire.capture.clock())
        wire.holds.add(held, release, lambda: drop(held.id), self)
        return held

    def holding(self) -> bool:
        """Whether a chunk of this connection is held."""
        return self.wire.holds.holds_from(self)

    def forget(self) -> None:
        """The connection is going: its held chunks go nowhere."""
        self.wire.holds.forget(self)

    def flush(self) -> None:
        """The connection is ending: capture what the dissector still had (once)."""
        conn = self.conn
        if self._flushed or conn is None or conn.closed is not None:
            return
        self._flushed = True
        capture = self.wire.capture
        for piece in self.dissector.close(capture.clock()):
            capture.add(conn, piece)

    def undelivered(self, sender: Sender, count: int, why: str, *, unsure: int = 0,
                    acked: int | None = None, note: bool = True) -> None:
        """The last ``count`` bytes the Wire read from ``sender`` were never passed on to
        the other side (``why``: "the client had closed the connection"): mark the
        Messages they were part of and say so in a note. ``unsure``: bytes before them
        passed to the network that the other side may not have got (not acknowledged,
        or not known); ``acked``: bytes the other side's TCP acknowledged before it
        reset (its program may not have read them all); ``note``: False when the Wire's
        own reset already has its note."""
        conn = self.conn
        if conn is None or (count <= 0 and unsure <= 0):
            return
        self.flush()
        other = "client" if sender is Sender.SERVER else "server"
        parts = []
        if count > 0:
            self.wire.capture.undelivered(conn, sender, count)
            parts.append(f"{count:,} byte{'' if count == 1 else 's'} read from the "
                         f"{sender.value} {'was' if count == 1 else 'were'} never "
                         f"delivered: {why}")
        else:
            parts.append(why)
        if unsure > 0:
            before = "before them " if count > 0 else ""
            how = "but not acknowledged: they" if acked is not None else "and"
            parts.append(f"{unsure:,} byte{'' if unsure == 1 else 's'} {before}were passed "
                         f"to the network {how} may not have reached the {other}")
        if acked:
            parts.append(f"the {other}'s program may not have read all of the {acked:,} "
                         "bytes its TCP acknowledged")
        if note:
            self.wire.inject(conn, sender, "; ".join(parts))

    def close(self, note: str) -> Connection | None:
        """The connection ended: capture what the dissector still had, close the
        Connection with ``note``, forget held chunks; the closed Connection."""
        self.forget()
        self.flush()
        conn = self.conn
        if conn is None or conn.closed is not None:
            return conn
        self.conn = self.wire.capture.close(conn.id, note)
        return self.conn
