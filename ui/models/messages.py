"""The inspector's model: every captured Message as one row (its filter: ui/models/filter.py).

Rows are only appended, in batches (one ``beginInsertRows`` per batch), and
cells are formatted when a view asks for them, so only the visible rows cost
anything: this is what lets 10,000 messages a second through.
"""

from __future__ import annotations

import bisect
import time
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from lab.model import Message, Sender
from lab.pairs import Pairs
from ui import theme
from ui.models.filter import MessageFilterProxy, SearchIndex

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
    """All captured Messages, oldest first. Feed it with ``append`` (batches)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._messages: list[Message] = []
        self._deltas: list[float | None] = []
        self._last_time: dict[str, float] = {}
        #: Which message answers which (the HAR export pairs the same way).
        self.pairs = Pairs()
        self._highlighted: int | None = None  # a row shown as the selected row's partner
        #: Every row's searchable text, for the filter (MessageFilterProxy).
        self.search = SearchIndex()
        #: Step mode: the ids a Wire holds now, and the last id known when that was
        #: asked (None: nothing is known live, as in a capture file: none is held).
        self._held_now: frozenset[int] = frozenset()
        self._held_known: int | None = None
        self._held_rows: list[int] = []  # rows of messages flagged held

    def connection_label(self, message: Message) -> str:
        """The Connection column: ``c1 ↳ c3`` for data connection c3 of control c1."""
        return connection_label(message.connection, message.parent)

    # ---- feeding ---------------------------------------------------------------

    def append(self, batch: list[Message]) -> None:
        """Add a batch of new messages at the end (one insert for the whole batch)."""
        if not batch:
            return
        first = len(self._messages)
        self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
        for message in batch:
            previous = self._last_time.get(message.connection)
            self._deltas.append(None if previous is None else max(0.0, message.time - previous))
            self._last_time[message.connection] = message.time
            if message.held:
                self._held_rows.append(len(self._messages))
            self._messages.append(message)
            self.search.add(message)
            self.pairs.add(message)
        self.endInsertRows()

    def partner(self, message_id: int) -> int | None:
        """The id of the request this message answers, or of the response answering it."""
        return self.pairs.partner(message_id)

    def row_of(self, message_id: int) -> int | None:
        row = message_id - 1  # ids count from 1 in capture order
        if 0 <= row < len(self._messages) and self._messages[row].id == message_id:
            return row
        # Sampled (some ids missing): the ids still increase, so search for it.
        row = bisect.bisect_left(self._messages, message_id, key=lambda m: m.id)
        if row < len(self._messages) and self._messages[row].id == message_id:
            return row
        return next((r for r, m in enumerate(self._messages) if m.id == message_id), None)

    def amend(self, messages: list[Message]) -> None:
        """Messages learned more of (bytes never delivered): their rows show it."""
        last = len(COLUMNS) - 1
        for message in messages:
            row = self.row_of(message.id)
            if row is not None:
                self._messages[row] = message
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
        before = [(row, self.holding(self._messages[row])) for row in self._held_rows]
        self._held_now, self._held_known = held, known
        last = len(COLUMNS) - 1
        for row, was in before:
            if self.holding(self._messages[row]) != was:
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
        self.pairs = Pairs()
        self._highlighted = None
        self._messages.clear()
        self._held_rows.clear()
        if self._held_known is not None:  # ids count from 1 again
            self._held_now, self._held_known = frozenset(), 0
        self.search.clear()
        self._deltas.clear()
        self._last_time.clear()
        self.endResetModel()

    def message(self, row: int) -> Message:
        return self._messages[row]

    def delta(self, row: int) -> float | None:
        return self._deltas[row]

    # ---- the Qt model interface --------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._messages)

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
        if role not in _ROLES or not 0 <= row < len(self._messages):
            return None
        message = self._messages[row]
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
            return format_delta(self._deltas[row])
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
