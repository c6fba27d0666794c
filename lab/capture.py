"""The Capture: the ordered record of one lab session, and the bus it publishes on.

Only the Capture makes Messages and Connections. Subscribers are called on the
thread that runs the engine's loop, in order; a subscriber that raises is
reported on stderr and kept, so one bad reader never stops the Wire.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from lab.model import (
    CaptureCleared,
    Connection,
    ConnectionClosed,
    ConnectionOpened,
    EndpointNamed,
    Event,
    Message,
    MessageAmended,
    MessageCaptured,
    Piece,
    Sender,
    Transport,
)
from lab.spill import MessageLog, Snapshot

Subscriber = Callable[[Event], None]

#: Raw bytes the Capture keeps per connection; past this each Message keeps only
#: a short prefix (flag ``truncated``), so a long transfer does not grow memory.
CONNECTION_RAW_BUDGET = 4 * 1024 * 1024
#: The prefix kept once a connection's budget is spent.
SPENT_PREFIX = 256
#: Closed connections kept in memory once the capture spilled; older ones are read back
#: from its store (``connection``, ``all_connections``).
CLOSED_KEPT = 10_000
#: How far back ``undelivered`` looks for a connection's last messages.
UNDELIVERED_LOOKBACK = 100_000


class Capture:
    """Numbered Messages and Connections, published on the bus. The newest messages
    are kept in memory, all of them on disk once there are many (lab/spill.py):
    ``messages`` reads like a list either way. ``finish()`` deletes what is on disk."""

    def __init__(self, clock: Callable[[], float] = time.time, *,
                 window: int | None = None) -> None:
        self.clock = clock
        self.messages = self._new_log(window)
        self.connections: dict[str, Connection] = {}
        self._subscribers: list[Subscriber] = []
        self._conn_ids = itertools.count(1)
        self._closed: deque[str] = deque()  # closed connections, oldest first
        self._raw_kept: dict[str, int] = {}
        self._forgotten: dict[str, Connection] = {}  # closed ones the last clear dropped
        #: A lab client's local address → its node id (from the EndpointNamed events
        #: published here): later Messages from that address carry the node.
        self.endpoints: dict[str, str] = {}

    def _new_log(self, window: int | None = None) -> MessageLog:
        return MessageLog(self._backlog) if window is None \
            else MessageLog(self._backlog, window=window)

    def _backlog(self) -> list[Event]:
        """What a new store needs besides the messages: connections and names."""
        events: list[Event] = [ConnectionOpened(c) for c in self.connections.values()]
        events += [EndpointNamed(a, n) for a, n in self.endpoints.items()]
        return events

    def finish(self) -> None:
        """The lab is ending: delete the store of older messages (if any)."""
        self.messages.close()

    def connection(self, connection_id: str) -> Connection | None:
        """A connection by id, also one closed long ago (read back from the store)."""
        conn = self.connections.get(connection_id) or self._forgotten.get(connection_id)
        reader = self.messages.reader() if conn is None else None
        return conn if reader is None else reader.connection(connection_id)

    def all_connections(self) -> dict[str, Connection]:
        """Every connection of the capture, in the order they opened, also those only
        its store still has (a save, an export)."""
        reader = self.messages.reader()
        every = {} if reader is None else reader.connections()
        every.update(self.connections)
        return every

    def snapshot(self) -> Snapshot:
        """The messages and connections as they are now, for a save or an export on a
        worker thread while the capture goes on (lab/spill.py: Snapshot)."""
        snap = self.messages.snapshot()
        snap.recent = dict(self.connections)
        return snap

    def messages_of(self, connection: str) -> list[Message]:
        """The messages of one connection, in order."""
        return self.messages.of_connection(connection)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every later event; returns a function that unsubscribes."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        if isinstance(event, EndpointNamed):
            self.endpoints[event.address] = event.node_id
        self.messages.record(event)
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(event)
            except Exception as exc:  # a reader's bug must not stop the Wire
                print(f"cslab: capture subscriber failed: {exc!r}", file=sys.stderr)

    def forget_endpoints(self, node_id: str) -> None:
        """A lab client is gone: its addresses name nobody now (a later client that
        reuses one of its ports must not be taken for it)."""
        for address in [a for a, n in self.endpoints.items() if n == node_id]:
            del self.endpoints[address]

    def name_endpoint(self, address: str, node_id: str) -> None:
        """``address`` is one end of lab client ``node_id``: publish EndpointNamed (the
        Capture keeps the name, and its later Messages from there carry the node)."""
        self.publish(EndpointNamed(address, node_id))

    def client_node(self, conn: Connection) -> str | None:
        """The lab client node ``conn`` comes from, if known: by its client address, or
        (an FTP data connection from an unnamed port) by its control connection's."""
        node = self.endpoints.get(conn.client)
        if node is None and conn.parent is not None:
            control = self.connections.get(conn.parent) or self._forgotten.get(conn.parent)
            if control is not None:
                node = self.endpoints.get(control.client)
        return node

    def clear(self) -> None:
        """Forget every Message and every closed Connection (a lesson starts clean),
        then publish CaptureCleared.

        Message ids start again at 1, so that a message's id stays its place in
        ``messages`` plus one (the Wire reads its messages back so) and a store or an
        export of the capture never holds one id twice. Connection ids go on
        counting: a connection still open is announced again (ConnectionOpened,
        after the CaptureCleared) for the messages it may still carry, and a new one
        never takes its id. A recorder of the whole session (JSON Lines, .cslab)
        must not be subscribed across a clear: the GUI clears, ``cslab`` never does.
        """
        live = [conn for conn in self.connections.values() if conn.closed is None]
        self._forgotten = {cid: c for cid, c in self.connections.items() if c.closed is not None}
        window = self.messages.window
        self.messages.clear()  # its store goes; a new one begins when it fills again
        self.messages = self._new_log(window)
        self.connections = {conn.id: conn for conn in live}
        self._raw_kept = {}
        self._closed.clear()
        self.publish(CaptureCleared())
        for conn in live:
            self.publish(ConnectionOpened(conn))

    def open(
        self,
        *,
        protocol: str,
        transport: Transport,
        client: str,
        server: str,
        parent: str | None = None,
        node: str | None = None,
    ) -> Connection:
        conn = Connection(
            id=f"c{next(self._conn_ids)}",
            protocol=protocol,
            transport=transport,
            client=client,
            server=server,
            opened=self.clock(),
            parent=parent,
            node=node,
        )
        self.connections[conn.id] = conn
        self.publish(ConnectionOpened(conn))
        return conn

    def close(self, conn_id: str, note: str = "") -> Connection:
        """Mark a connection closed (once; later calls return it unchanged, even after
        a clear forgot it)."""
        conn = self.connection(conn_id)
        if conn is None:
            raise KeyError(conn_id)
        if conn.closed is not None:
            return conn
        conn = replace(conn, closed=self.clock(), note=note or conn.note)
        self._raw_kept.pop(conn_id, None)
        self.connections[conn_id] = conn
        self.publish(ConnectionClosed(conn))
        self._closed.append(conn_id)
        if len(self._closed) > CLOSED_KEPT:
            self.messages.keep_on_disk()  # many connections, few messages: spill anyway
        while len(self._closed) > CLOSED_KEPT and self.messages.path is not None:
            self.connections.pop(self._closed.popleft(), None)  # the store has it
        return conn

    def add(self, conn: Connection, piece: Piece, *, injected: bool = False,
            held: bool = False) -> Message:
        raw, truncated = piece.raw, piece.truncated
        kept = self._raw_kept.get(conn.id, 0)
        if kept >= CONNECTION_RAW_BUDGET and len(raw) > SPENT_PREFIX:
            raw, truncated = raw[:SPENT_PREFIX], True
        self._raw_kept[conn.id] = kept + len(raw)
        message = Message(
            id=len(self.messages) + 1,
            time=piece.time,
            connection=conn.id,
            protocol=conn.protocol,
            sender=piece.sender,
            client=conn.client,
            server=conn.server,
            summary=piece.summary,
            size=piece.size,
            raw=raw,
            fields=piece.fields,
            truncated=truncated,
            malformed=piece.malformed,
            injected=injected,
            held=held,
            node=conn.node,
            client_node=self.client_node(conn) if self.endpoints else None,
            parent=conn.parent,
        )
        self.messages.append(message)
        self.publish(MessageCaptured(message))
        return message

    def undelivered(self, conn: Connection, sender: Sender, count: int) -> list[Message]:
        """The last ``count`` bytes ``sender`` sent on ``conn`` were read by the Wire and
        never delivered: set ``undelivered`` on the Messages they were part of, newest
        first, publishing each as MessageAmended; the amended Messages. Those no longer
        in memory are found in the store (whose row the MessageAmended rewrites)."""
        amended: list[Message] = []
        log = self.messages
        stop = max(log.first_kept - 1, len(log) - 1 - UNDELIVERED_LOOKBACK)
        older = range(len(log) - 1, stop, -1)
        reader = log.reader() if log.first_kept else None
        candidates = itertools.chain(
            (log[at] for at in older),
            () if reader is None else reader.last_of(conn.id, sender.value, log.first_kept + 1))
        for message in candidates:
            if count <= 0:
                break
            if message.connection != conn.id or message.sender is not sender \
                    or message.injected or message.size <= message.undelivered:
                continue
            more = min(count, message.size - message.undelivered)
            count -= more
            message = replace(message, undelivered=message.undelivered + more)
            log[message.id - 1] = message
            amended.append(message)
            self.publish(MessageAmended(message))
        return amended
