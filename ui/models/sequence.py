"""The sequence diagram's model: lanes and arrows over the inspector's rows.

It reads the rows of a model that gives each row's Message under MESSAGE_ROLE,
in practice the inspector's filter proxy, so filtering the inspector filters the
diagram. It keeps nothing per row, only per connection: its first and last
message, its two lane names, and the order in which the shown rows first use
it. Lanes follow from that order (a lane per name, clients left of servers),
so naming a connection anew (a lab client reports its address after its first
message) costs the connections still called by that address, found in an index (what it
keeps of a connection's first message is who and where, not its bytes). Rows are looked at
lazily, when a view asks (``row_count``, ``lanes``, ``arrow``): appending a
batch costs that batch; a filter change (rows removed, or inserted before the
end) costs one pass over the rows still shown, on the next paint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QObject,
    QSortFilterProxyModel,
    Signal,
)

from lab.model import Message, Sender, is_rewrite_note
from lab.naming import by_address, host_of, outside_client
from ui.models.messages import MESSAGE_ROLE, MessageFilterProxy, MessageTableModel

#: What the user calls one end of a message (``Sender.CLIENT``: its client, else its
#: server), e.g. a lab node's name; the plain address when nothing better is known.
#: The lab names them so (lab/naming.py: Namer) for every view and export.
Namer = Callable[[Message, Sender], str]
#: Whether a connection has closed (the window asks its bridge).
IsClosed = Callable[[str], bool]


def never_closed(connection: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Lane:
    """One lifeline: a client (left of every server) or a server."""

    role: Sender
    label: str  # e.g. "HTTP client #1", "HTTP server #1 :8080", "10.0.0.5"
    address: str = ""  # a server's host:port (a client's changes per connection)


@dataclass(frozen=True, slots=True)
class Arrow:
    """One row of the diagram: a message from the ``start`` lane to the ``end`` lane
    (indexes into ``SequenceModel.lanes()``)."""

    row: int
    message: Message
    start: int
    end: int
    data: bool  # on an FTP data connection
    opens: bool  # the first message of its connection
    closes: bool  # the last message of a connection that has closed

    @property
    def fault(self) -> bool:
        """Drawn red: the lab injected it (a fault), but not the Wire's note of an FTP
        line it rewrote (a NAT helper's everyday work: nothing went wrong)."""
        return self.message.injected and not is_rewrite_note(self.message)


class SequenceModel(QObject):
    """Lanes and arrows of the messages that ``rows`` shows.

    Signals:
        rows_changed(): rows were appended, removed or reset (a view re-reads its range).
        lanes_changed(): the lanes may have changed (a view lays them out again).
    """

    rows_changed = Signal()
    lanes_changed = Signal()

    def __init__(self, rows: QAbstractItemModel, namer: Namer = by_address,
                 closed: IsClosed = never_closed, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows = rows
        self.namer = namer
        self.closed = closed
        source = rows.sourceModel() if isinstance(rows, QAbstractProxyModel) else rows
        self.source = source if isinstance(source, MessageTableModel) else None
        self._names: dict[str, tuple[str, str]] = {}  # connection → (client, server) lane
        self._first: dict[str, Message] = {}  # connection → its first message
        self._last: dict[str, int] = {}  # connection → the id of its last message
        self._source_seen = 0
        self._seen = 0  # rows of ``rows`` looked at
        self._shown: dict[str, Message] = {}  # connections in order of first use by a row
        self._lanes: list[Lane] | None = None
        self._client_at: dict[str, int] = {}  # lane name → its index
        self._server_at: dict[str, int] = {}
        self._addresses: dict[str, str] = {}  # server lane name → its host:port
        self._by_address: dict[str, set[str]] = {}  # address → connections it names
        self._children: dict[str, set[str]] = {}  # control → its data connections
        rows.rowsInserted.connect(self._inserted)
        for signal in (rows.rowsRemoved, rows.modelReset, rows.layoutChanged, rows.rowsMoved):
            signal.connect(self._reset)
        if self.source is not None and self.source is not rows:
            self.source.modelReset.connect(self._forget)

    # ---- what a view asks ----------------------------------------------------------

    def row_count(self) -> int:
        return self.rows.rowCount()

    def lanes(self) -> list[Lane]:
        """Every lane, clients first, each side in order of first appearance."""
        self._catch_up()
        if self._lanes is None:
            self._client_at.clear()
            self._server_at.clear()
            self._addresses.clear()
            for conn, message in self._shown.items():
                client, server = self._lanes_of(conn, message)
                self._client_at.setdefault(client, len(self._client_at))
                self._server_at.setdefault(server, len(self._server_at))
                if message.parent is None:
                    self._addresses.setdefault(server, message.server)
            left = len(self._client_at)
            self._server_at = {name: left + i for name, i in self._server_at.items()}
            self._lanes = ([Lane(Sender.CLIENT, name) for name in self._client_at]
                           + [Lane(Sender.SERVER, name, self._addresses.get(name, ""))
                              for name in self._server_at])
        return self._lanes

    def message(self, row: int) -> Message | None:
        if not 0 <= row < self.rows.rowCount():
            return None
        if self.source is not None:
            if self.source is self.rows or self._identity():
                return self.source.message(row)
            if isinstance(self.rows, MessageFilterProxy):
                mapped = self.rows.source_row(row)
                return None if mapped is None else self.source.message(mapped)
            if isinstance(self.rows, QAbstractProxyModel):
                source_row = self.rows.mapToSource(self.rows.index(row, 0)).row()
                return self.source.message(source_row) if source_row >= 0 else None
        value = self.rows.index(row, 0).data(MESSAGE_ROLE)
        return value if isinstance(value, Message) else None

    def arrow(self, row: int) -> Arrow | None:
        """Row ``row`` as an arrow between two lanes (None past the end)."""
        message = self.message(row)
        if message is None:
            return None
        self.lanes()
        conn = message.connection
        client, server = self._lanes_of(conn, message)
        c, s = self._client_at.get(client), self._server_at.get(server)
        if c is None or s is None:
            return None  # only while a reset is pending
        start, end = (c, s) if message.sender is Sender.CLIENT else (s, c)
        first = self._first.get(conn) or self._shown.get(conn)
        return Arrow(row=row, message=message, start=start, end=end,
                     data=message.parent is not None,
                     opens=first is not None and first.id == message.id,
                     closes=self._last.get(conn) == message.id and self.closed(conn))

    def rename(self, named: object = None) -> None:
        """Names may have changed: ``named`` holds the addresses that have a name now
        (a lab client reported its address, often after its first message; a dict's
        keys or any iterable), None for any. Names again the connections still
        called by one of those addresses, and their data connections; costs those
        connections, not all of them."""
        if isinstance(named, dict | list | tuple | set | frozenset):
            addresses = [a for a in named if isinstance(a, str)]
        else:
            addresses = list(self._by_address)
        stale: set[str] = set()
        for address in addresses:
            stale |= self._by_address.pop(address, set())
        for conn in list(stale):
            stale |= self._children.get(conn, set())
        for conn in stale:
            self._names.pop(conn, None)
        if stale:
            self._lanes = None
            self.lanes_changed.emit()

    def row_of(self, message_id: int) -> int | None:
        """The row showing message ``message_id``, or None (filtered out, unknown)."""
        if self.source is None:
            return next((r for r in range(self.rows.rowCount())
                         if (m := self.message(r)) is not None and m.id == message_id), None)
        source_row = self.source.row_of(message_id)
        if source_row is None:
            return None
        if self.source is self.rows:
            return source_row
        if isinstance(self.rows, MessageFilterProxy):
            return self.rows.proxy_row(source_row)
        assert isinstance(self.rows, QAbstractProxyModel)
        index = self.rows.mapFromSource(self.source.index(source_row, 0))
        return index.row() if index.isValid() else None

    def partner_row(self, row: int) -> int | None:
        """The row of the request row ``row`` answers, or of its response, if shown."""
        message = self.message(row)
        if message is None or self.source is None:
            return None
        partner = self.source.partner(message.id)
        return None if partner is None else self.row_of(partner)

    def answering(self, message: Message) -> Message | None:
        """The request a reply answers (None for a request, or if none is known)."""
        if message.sender is not Sender.SERVER or self.source is None:
            return None
        partner = self.source.partner(message.id)
        row = None if partner is None else self.source.row_of(partner)
        return None if row is None else self.source.message(row)

    # ---- keeping up ----------------------------------------------------------------

    def _identity(self) -> bool:
        """Whether row r of ``rows`` is row r of the source (an unsorted proxy
        that hides nothing)."""
        rows = self.rows
        if isinstance(rows, MessageFilterProxy):
            return self.source is not None and rows.source_rows() is None
        return (self.source is not None and isinstance(rows, QSortFilterProxyModel)
                and rows.sortColumn() < 0 and rows.rowCount() == self.source.rowCount())

    def _lanes_of(self, conn: str, message: Message) -> tuple[str, str]:
        """The (client, server) lane names of connection ``conn`` (``message`` is one
        of its messages): an FTP data connection is drawn between the lanes of its
        control connection."""
        names = self._names.get(conn)
        if names is None:
            parent = message.parent
            control = (self._first.get(parent) or self._shown.get(parent)) if parent else None
            if parent and control is not None:
                names = self._lanes_of(parent, control)
                self._children.setdefault(parent, set()).add(conn)
            else:
                names = (self.namer(message, Sender.CLIENT), self.namer(message, Sender.SERVER))
                self._index(conn, message, names)
            self._names[conn] = names
        return names

    def _index(self, conn: str, message: Message, names: tuple[str, str]) -> None:
        """Remember which addresses still name ``conn`` (so ``rename`` finds it)."""
        client, server = names
        if client in (message.client, host_of(message.client), outside_client(message.client)):
            self._by_address.setdefault(message.client, set()).add(conn)
        if server == message.server:
            self._by_address.setdefault(message.server, set()).add(conn)

    def _catch_up(self) -> None:
        if self.source is not None:
            count = self.source.rowCount()
            first, last = self._first, self._last
            for seen in self.source.messages(self._source_seen, count):
                if seen.connection not in first:
                    first[seen.connection] = _slim(seen)
                last[seen.connection] = seen.id
            self._source_seen = count
        count = self.rows.rowCount()
        if self._seen >= count:
            return
        known = len(self._shown)
        shown = self._shown
        if self._seen == 0 and self._identity() and self._source_seen == count:
            shown.update(self._first)  # every row shown: each connection's first message
        else:
            for message in self._messages_from(self._seen, count):
                if message is not None and message.connection not in shown:
                    shown[message.connection] = _slim(message)
        self._seen = count
        if len(self._shown) != known:
            self._lanes = None
            self.lanes_changed.emit()

    def _messages_from(self, first: int, end: int) -> Iterable[Message | None]:
        """The messages of rows ``first``..``end - 1``, the cheapest way the rows allow."""
        source = self.source
        if source is not None and (source is self.rows or self._identity()):
            return source.messages(first, end)
        if source is not None and isinstance(self.rows, MessageFilterProxy):
            mapped = self.rows.source_rows()
            if mapped is not None:
                return _rows_of(source, mapped[first:end])
        return (self.message(row) for row in range(first, end))

    def _inserted(self, _parent: object, first: int, _last: int) -> None:
        if first < self._seen:  # rows came back before the end: a filter was loosened
            self._reset()
            return
        self.rows_changed.emit()

    def _reset(self, *_: object) -> None:
        """Forget which lanes the shown rows use; the next question recomputes them."""
        self._seen = 0
        self._shown.clear()
        self._lanes = None
        self.rows_changed.emit()
        self.lanes_changed.emit()

    def _forget(self) -> None:
        """The capture was cleared: forget its connections too."""
        self._names.clear()
        self._by_address.clear()
        self._children.clear()
        self._first.clear()
        self._last.clear()
        self._source_seen = 0
        self._reset()


def _slim(message: Message) -> Message:
    """What the diagram keeps of a connection's first message: who and where, not its
    bytes (a load test opens a connection per request)."""
    if message.raw or message.fields or message.summary:
        return replace(message, raw=b"", fields=(), summary="")
    return message


def _rows_of(source: MessageTableModel, rows: Sequence[int]) -> Iterator[Message]:
    """The Messages of ``rows`` (increasing source rows), runs of neighbours read
    together (rows older than memory come from the store a chunk at a time)."""
    at = 0
    while at < len(rows):
        end = at + 1
        while end < len(rows) and rows[end] - rows[at] < 4 * (end - at + 1) \
                and end - at < 2000:
            end += 1
        first = rows[at]
        wanted = set(rows[at:end])
        for row, message in enumerate(source.messages(first, rows[end - 1] + 1), first):
            if row in wanted:
                yield message
        at = end
