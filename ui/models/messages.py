"""The inspector's model: every captured Message as one row (its filter: ui/models/filter.py).

Rows are only appended, in batches (one ``beginInsertRows`` per batch), and
cells are formatted when a view asks for them, so only the visible rows cost
anything: this is what lets 10,000 messages a second through.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import QBrush, QColor

from lab.model import Message, Sender
from lab.pairs import Pairs
from ui import theme
from ui.models.filter import MessageFilterProxy, SearchIndex
from ui.models.stored_rows import RowIds, StoredRows

if TYPE_CHECKING:
    from lab.capture import Capture

#: The role under which every cell gives its whole Message.
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1

COLUMNS = ("#", "Time", "Δt", "Connection", "From → To", "Protocol", "Summary", "Bytes")
COL_ID, COL_TIME, COL_DELTA, COL_CONN, COL_ROUTE, COL_PROTO, COL_SUMMARY, COL_BYTES = range(8)


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
#: The roles a cell answers; a view asks for many more.
#: Rows kept in memory without a capture to say how many (its own window decides).
WINDOW = 20_000
#: Compact the in-memory list once this many let-go rows lead it.
COMPACT_AT = 4096
#: Pairs of request and response kept (older ones are paired again from the store).
PAIRS_KEPT = 50_000
#: Connections whose last time is kept for the Δt column (the least recently heard
#: beyond this are forgotten: their next message shows no Δt).
CONNECTIONS_TIMED = 100_000
_NONE = float("nan")
_ROLES = frozenset((_DISPLAY, int(MESSAGE_ROLE), _ALIGNMENT, _BACKGROUND, _FOREGROUND, _TOOLTIP))
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter

Index = QModelIndex | QPersistentModelIndex


def malformed_tint() -> QColor:
    """A malformed message's background in the look in use."""
    return theme.qcolour("malformed-tint")


def partner_tint() -> QColor:
    """The background of the selected message's partner (its request or its
    response) in the look in use."""
    return theme.qcolour("partner-tint")


def sender_colour(sender: Sender) -> QColor:
    """The colour of who sent a message (client or server) in the look in use."""
    return theme.qcolour("client" if sender is Sender.CLIENT else "server")


def format_time(stamp: float) -> str:
    """``HH:MM:SS.mmm`` in local time."""
    return time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}"


def format_delta(delta: float | None) -> str:
    """Time since the previous message of the same connection, in a readable unit."""
    if delta is None:
        return ""
    if delta < 1.0:
        return f"+{delta * 1000:.1f} ms"
    return f"+{delta:.3f} s"


class MessageTableModel(QAbstractTableModel):
    """All captured Messages, oldest first. Feed it with ``append`` (batches).

    Per row it keeps a message id and a delta; Messages only for the newest rows
    (``window``: by default as many as the capture keeps) and a few blocks read back.
    Once the capture it follows spills to its store, an older row is read from there
    (ui/models/stored_rows.py). Without a capture (a file shown), every row stays.
    """

    def __init__(self, parent: QObject | None = None, *, window: int | None = None) -> None:
        super().__init__(parent)
        self._ids = RowIds()
        self._deltas = array("f")  # NaN: no previous message on the connection
        self._recent: list[Message] = []  # rows _base.. (those before _cut are let go)
        self._base = 0
        self._cut = 0
        #: Rows older than memory, read back from the capture's store.
        self.stored = StoredRows(self._ids)
        #: Messages kept in memory (None: as many as the capture keeps).
        self.window = window
        self._last_time: dict[str, float] = {}  # connection → its last message's time
        #: Which message answers which (the HAR export pairs the same way).
        self.pairs = Pairs(limit=PAIRS_KEPT)
        self._pairs_of: dict[tuple[str, int], Pairs] = {}  # paired again from the store
        self._highlighted: int | None = None  # a row shown as the selected row's partner
        #: The searchable text of the rows in memory, for the filter (MessageFilterProxy).
        self.search = SearchIndex()
        #: Step mode: the ids a Wire holds now, and the last id known when that was
        #: asked (None: nothing is known live, as in a capture file: none is held).
        self._held_now: frozenset[int] = frozenset()
        self._held_known: int | None = None
        self._held_rows: list[int] = []  # rows of messages flagged held
        self._retry = QTimer(self)  # let go once the store has caught up (traffic stopped)
        self._retry.setSingleShot(True)
        self._retry.setInterval(1000)
        self._retry.timeout.connect(self._let_go)

    def follow(self, capture: Capture) -> None:
        """Read rows that left memory from ``capture``'s store (the bridge's capture)."""
        self.stored.capture = capture

    def connection_label(self, message: Message) -> str:
        """The Connection column: ``c1 ↳ c3`` for data connection c3 of control c1."""
        return connection_label(message.connection, message.parent)

    # ---- feeding ---------------------------------------------------------------

    def append(self, batch: list[Message]) -> None:
        """Add a batch of new messages at the end (one insert for the whole batch)."""
        if not batch:
            return
        if self.stored.capture is None:  # fed by a bridge: follow its capture
            capture = getattr(self.sender(), "capture", None)
            if capture is not None and hasattr(capture, "messages"):
                self.follow(capture)
        self.stored.bind()
        first = len(self._ids)
        last_time = self._last_time
        self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
        for message in batch:
            conn = message.connection
            previous = last_time.pop(conn, None)  # re-set below: the newest stay
            self._deltas.append(_NONE if previous is None else max(0.0, message.time - previous))
            last_time[conn] = message.time
            if message.held:
                self._held_rows.append(len(self._ids))
            self._ids.append(message.id)
            self._recent.append(message)
            self.search.add(message)
            self.pairs.add(message)
        while len(last_time) > CONNECTIONS_TIMED:
            del last_time[next(iter(last_time))]
        self.endInsertRows()
        self._let_go()

    def _let_go(self) -> None:
        """Let the oldest Messages go beyond ``window``: those the store has committed."""
        window = self.window
        if window is None:
            log = self.stored.log
            window = WINDOW if log is None else log.window
        items, cut = self._recent, self._cut
        live = len(items) - cut
        if live <= window or self.stored.log is None:
            return
        committed = self.stored.committed()
        start = cut
        while live > window and items[cut].id <= committed:
            cut += 1
            live -= 1
        if live > window and not self._retry.isActive():  # the store is behind: again soon
            self._retry.start()
        if cut == start:
            return
        self.search.forget(cut - start)
        self._cut = cut
        if cut >= COMPACT_AT and cut * 2 >= len(items):
            del items[:cut]
            self._base += cut
            self._cut = 0

    @property
    def first_kept(self) -> int:
        """The oldest row whose Message is in memory."""
        return self._base + self._cut

    def kept(self) -> int:
        """How many Messages the model holds (in memory and read back)."""
        return len(self._recent) - self._cut + self.stored.cached

    def partner(self, message_id: int) -> int | None:
        """The id of the request this message answers, or of the response answering it."""
        if self.pairs.known(message_id):
            return self.pairs.partner(message_id)
        row = self.row_of(message_id)  # paired long ago: pair its connection again
        if row is None:
            return None
        conn = self.message(row).connection
        key = (conn, self.pairs.horizon)  # paired again up to where pairs still know
        pairs = self._pairs_of.get(key)
        if pairs is None:
            pairs = Pairs()
            for message in self.stored.of_connection(conn, self.pairs.horizon + 1):
                if self._ids.row_of(message.id) is not None:  # a row (not sampled out)
                    pairs.add(message)
            if len(self._pairs_of) >= 8:
                del self._pairs_of[next(iter(self._pairs_of))]
            self._pairs_of[key] = pairs
        return pairs.partner(message_id)

    def row_of(self, message_id: int) -> int | None:
        return self._ids.row_of(message_id)

    def amend(self, messages: list[Message]) -> None:
        """Messages learned more of (bytes never delivered): their rows show it."""
        last = len(COLUMNS) - 1
        kept = self.first_kept
        for message in messages:
            row = self.row_of(message.id)
            if row is not None:
                if row >= kept:
                    self._recent[row - self._base] = message
                else:  # kept as it is now: the store may not have the change yet
                    self.stored.drop(row, message)
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def holding(self, message: Message) -> bool:
        """Whether ``message`` is held at a Wire now (read by it, not yet delivered);
        a message flagged ``held`` that is no longer was *stepped* (forwarded, edited
        or dropped by the user)."""
        if not message.held:
            return False
        known = self._held_known
        if known is None:
            return False
        return message.id in self._held_now or message.id > known

    def show_holds(self, held: frozenset[int], known: int) -> None:
        """What the Wires hold now (``held``, message ids), asked when the capture's
        last id was ``known`` (a later message may be held: it shows held until the
        next asking). The rows whose state changed are repainted."""
        if (held, known) == (self._held_now, self._held_known):
            return
        before = [(row, self.holding(self.message(row))) for row in self._held_rows]
        self._held_now, self._held_known = held, known
        last = len(COLUMNS) - 1
        for row, was in before:
            if self.holding(self.message(row)) != was:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def set_highlighted(self, row: int | None) -> None:
        """Tint ``row`` (the selected message's partner); None clears it."""
        old, self._highlighted = self._highlighted, row
        last = len(COLUMNS) - 1
        for changed in {old, row} - {None}:
            assert changed is not None
            self.dataChanged.emit(self.index(changed, 0), self.index(changed, last))

    def clear(self) -> None:
        self.beginResetModel()
        self.pairs = Pairs(limit=PAIRS_KEPT)
        self._pairs_of.clear()
        self._highlighted = None
        self._ids.clear()
        self._recent, self._base, self._cut = [], 0, 0
        self.stored.forget()  # the capture's next rows come from its new log
        self._held_rows.clear()
        if self._held_known is not None:  # ids count from 1 again
            self._held_now, self._held_known = frozenset(), 0
        self.search.clear()
        self._deltas = array("f")
        self._last_time.clear()
        self.endResetModel()

    def message(self, row: int) -> Message:
        if row < 0:
            row += len(self._ids)
        if not 0 <= row < len(self._ids):
            raise IndexError("row out of range")
        kept = self._base + self._cut
        if row >= kept:
            return self._recent[row - self._base]
        return self.stored.message(row, kept)

    def messages(self, first: int, end: int) -> Iterator[Message]:
        """The Messages of rows ``first``..``end - 1``, in order (older ones read from the
        store in chunks, not cached: for a walk over many rows)."""
        end = min(end, len(self._ids))
        kept = self._base + self._cut
        if first < kept:
            yield from self.stored.walk(first, min(end, kept))
            first = kept
        for row in range(first, end):
            yield self._recent[row - self._base]

    def delta(self, row: int) -> float | None:
        value = self._deltas[row]
        return None if value != value else value  # NaN: none

    def matching_rows(self, needle: str, first: int, end: int) -> list[int]:
        """The rows in ``first``..``end - 1`` (older than memory) whose text contains
        ``needle``, asked of the store (the filter's older rows)."""
        return self.stored.matching(needle, first, end)

    # ---- the Qt model interface --------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole and section == COL_DELTA:
                return "Time since the previous message on the same connection"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.data_at(index.row(), index.column(), role)

    def data_at(self, row: int, column: int, role: int) -> Any:
        """What ``data`` gives for the cell at ``row``, ``column`` (the filter proxy
        asks here directly: a view asks for every role of every cell it paints)."""
        if role not in _ROLES or not 0 <= row < len(self._ids):
            return None
        message = self.message(row)
        if role == _DISPLAY:
            return self._display(message, row, column)
        if role == MESSAGE_ROLE:
            return message
        if role == _ALIGNMENT:
            return _RIGHT if column in (COL_ID, COL_DELTA, COL_BYTES) else _LEFT
        if role == _BACKGROUND and message.malformed:
            return QBrush(malformed_tint())
        if role == _BACKGROUND and row == self._highlighted:
            return QBrush(partner_tint())
        if role == _FOREGROUND and column == COL_ROUTE:
            return QBrush(sender_colour(message.sender))
        if role == _TOOLTIP and column == COL_SUMMARY:
            return message.summary
        if role == _TOOLTIP and column == COL_CONN:
            if message.parent:
                return (f"Data connection {message.connection} of control connection "
                        f"{message.parent}")
        return None

    def _display(self, message: Message, row: int, column: int) -> str | None:
        if column == COL_ID:
            return str(message.id)
        if column == COL_TIME:
            return format_time(message.time)
        if column == COL_DELTA:
            return format_delta(self.delta(row))
        if column == COL_CONN:
            return self.connection_label(message)
        if column == COL_ROUTE:
            return f"{message.source} → {message.destination}"
        if column == COL_PROTO:
            return message.protocol
        if column == COL_SUMMARY:
            return _flags(message, self.holding(message)) + message.summary
        if column == COL_BYTES:
            return str(message.size)
        return None


def connection_label(connection: str, parent: str | None) -> str:
    """``c1 ↳ c3`` for data connection c3 of control c1, else the connection's id."""
    return f"{parent} ↳ {connection}" if parent else connection


def _flags(message: Message, holding: bool = False) -> str:
    """The marks before a summary. A message step mode held says "[held]" while a
    Wire holds it and "[stepped]" once the user let it go (or dropped it); the Wire's
    note of held bytes (injected and held) is marked as held, not as injected."""
    marks = [name for name in ("malformed", "truncated") if getattr(message, name)]
    if message.injected and not message.held:
        marks.append("injected")
    if message.held:
        marks.append("held" if holding else "stepped")
    if message.undelivered:
        marks.append(f"{message.undelivered:,} B never delivered")
    return "".join(f"[{mark}] " for mark in marks)


__all__ = ["MessageFilterProxy", "MessageTableModel"]
