"""The inspector's filter: the rows whose text contains what the user typed.

A row matches when its summary, its connection's label (``c1 ↳ c3``: a control
connection keeps its data connections), protocol, client, server or sender contain
the filter text, ignoring case; an empty filter shows every row.

Filtering 100,000 rows must not stall the window, so nothing here asks Qt about
each row: the model keeps a ``SearchIndex`` (each row's casefolded summary, and a
key for the rest, which few rows differ in) and the proxy maps rows itself, from
a list of the accepted source rows built in one pass.
"""

from __future__ import annotations

import bisect
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any, cast

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from lab.model import Message

Index = QModelIndex | QPersistentModelIndex
#: What a row shares with others: (connection label, protocol, client, server, sender).
Key = tuple[str, str, str, str, str]
#: Keys (connections) kept before those no kept row uses are forgotten.
KEYS_KEPT = 50_000
#: Rows older than memory searched in the store per query, and the time given to them
#: before the window paints again (seconds).
STORE_CHUNK = 25_000
STORE_SLICE = 0.03
#: The fewest and the most rows one query of the store searches.
MIN_CHUNK, MAX_CHUNK = 256, 400_000
#: The signature of layout(AboutToBe)Changed that carries a hint.
_PARENTS, _HINT = "QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint"


class SearchIndex:
    """The searchable text of the rows in memory, in row order; the model feeds it
    (``add``) and lets its oldest rows go (``forget``): rows before ``first`` are
    searched in the capture's store (the model's ``matching_rows``)."""

    def __init__(self) -> None:
        self.summaries: list[str] = []  # casefolded
        self.keys: list[int] = []
        self._key_ids: dict[Key, int] = {}
        self._key_list: list[Key] = []
        self._base = 0  # the row of summaries[0]
        self._cut = 0  # summaries before this are let go

    @property
    def first(self) -> int:
        """The oldest row searched here."""
        return self._base + self._cut

    def add(self, message: Message) -> None:
        conn = message.connection  # labelled as the Connection column shows it
        key = (f"{message.parent} ↳ {conn}" if message.parent else conn, message.protocol,
               message.client, message.server, message.sender.value)
        number = self._key_ids.get(key)
        if number is None:
            if len(self._key_list) >= KEYS_KEPT:
                self._renumber()
            number = self._key_ids[key] = len(self._key_list)
            self._key_list.append(key)
        self.keys.append(number)
        self.summaries.append(message.summary.casefold())

    def forget(self, rows: int) -> None:
        """The oldest ``rows`` rows are searched in the store from now on."""
        self._cut = min(self._cut + rows, len(self.summaries))
        if self._cut >= 4096 and self._cut * 2 >= len(self.summaries):
            del self.summaries[:self._cut]
            del self.keys[:self._cut]
            self._base += self._cut
            self._cut = 0

    def _renumber(self) -> None:
        """Forget the keys no kept row uses (a load test names many connections)."""
        del self.summaries[:self._cut]
        del self.keys[:self._cut]
        self._base += self._cut
        self._cut = 0
        used = sorted(set(self.keys))
        old = self._key_list
        self._key_list = [old[k] for k in used]
        new = {k: n for n, k in enumerate(used)}
        self._key_ids = {key: n for n, key in enumerate(self._key_list)}
        self.keys = [new[k] for k in self.keys]

    def clear(self) -> None:
        self.summaries.clear()
        self.keys.clear()
        self._key_ids.clear()
        self._key_list.clear()
        self._base = self._cut = 0

    def _rest(self, key: int) -> str:
        return " ".join(self._key_list[key]).casefold()

    def matches(self, needle: str, first: int, end: int) -> list[int]:
        """The rows in ``first``..``end - 1`` whose text contains ``needle`` (casefolded);
        only rows from ``first`` (the property) on are looked at."""
        base = self._base
        first, end = max(first, self.first) - base, end - base
        if first >= end:
            return []
        summaries, keys = self.summaries, self.keys
        rest = {k: self._rest(k) for k in set(keys[first:end])}
        if " " in needle:  # it may span the summary and the rest: test the whole text
            return [row + base for row in range(first, end)
                    if needle in f"{summaries[row]} {rest[keys[row]]}"]
        hit = {k: needle in text for k, text in rest.items()}
        return [row + base for row in range(first, end)
                if hit[keys[row]] or needle in summaries[row]]


class MessageFilterProxy(QAbstractProxyModel):
    """The rows of a message model whose text contains the filter text (see the module).

    Rows keep their order; new source rows are filtered as they are appended (one
    insert per batch); a filter change keeps the selection of rows still shown (a
    layout change, not a reset). A source without a ``search`` index shows every row.

    Rows older than the source's memory (before ``search.first``) are searched in the
    capture's store (the source's ``matching_rows``), newest first, a chunk of rows a
    query for STORE_SLICE seconds at a time, so that the window stays responsive; the
    rows found are inserted at the top once all are searched. ``searching`` says
    whether some are still to search; ``searched`` is emitted when none is.
    """

    searched = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._rows: array[int] | None = None  # accepted source rows; None: every row
        self._count = 0  # rows shown when ``_rows`` is None
        self._search: SearchIndex | None = None
        self._cells: Callable[[int, int, int], Any] | None = None  # the source's data_at
        self._links: list[Any] = []
        self._older: Callable[[str, int, int], list[int]] | None = None  # matching_rows
        self._pending = 0  # source rows 0.._pending - 1 are still to search (in the store)
        self._found: list[list[int]] = []  # what the store gave so far, newest first
        self._chunk = STORE_CHUNK  # rows a query searches (sized to take about a slice)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._search_older)

    @property
    def searching(self) -> bool:
        """Whether older rows are still being searched in the store."""
        return self._pending > 0

    @property
    def filter_text(self) -> str:
        return self._needle

    # ---- the source ----------------------------------------------------------------

    def setSourceModel(self, model: QAbstractItemModel) -> None:  # noqa: N802
        self.beginResetModel()
        old = self.sourceModel()
        for signal, slot in self._links:
            signal.disconnect(slot)
        self._links = []
        super().setSourceModel(model)
        search = getattr(model, "search", None)
        self._search = search if isinstance(search, SearchIndex) else None
        self._cells = getattr(model, "data_at", None) if self._search is not None else None
        self._older = getattr(model, "matching_rows", None) if self._search is not None \
            else None
        if model is not None and model is not old:
            for signal, slot in ((model.rowsInserted, self._source_inserted),
                                 (model.modelAboutToBeReset, self.beginResetModel),
                                 (model.modelReset, self._source_reset),
                                 (model.dataChanged, self._source_changed)):
                signal.connect(slot)
                self._links.append((signal, slot))
        self._refilter()
        self.endResetModel()

    def _refilter(self) -> None:
        source = self.sourceModel()
        total = source.rowCount() if source is not None else 0
        self._timer.stop()
        self._pending = 0
        self._found = []
        if not self._needle or self._search is None:
            self._rows, self._count = None, total
            return
        start = min(self._search.first, total)
        self._rows = array("q", self._search.matches(self._needle, start, total))
        if start > 0 and self._older is not None:
            self._pending = start
            self._timer.start()

    def _search_older(self) -> None:
        """Search the next rows older than memory (newest first), for STORE_SLICE
        seconds; once every one is searched, insert those found at the top, in one go
        (a view, the diagram, lays its rows out again once, not once a slice). A query
        takes a chunk of rows sized to take about a slice (rows far apart in ids, a
        sampled capture's, take longer each)."""
        older, rows = self._older, self._rows
        if older is None or rows is None or self._pending <= 0:
            self._pending = 0
            return
        deadline = time.perf_counter() + STORE_SLICE
        while self._pending > 0 and time.perf_counter() < deadline:
            first = max(0, self._pending - self._chunk)
            began = time.perf_counter()
            self._found.append(older(self._needle, first, self._pending))
            took = time.perf_counter() - began
            if took > STORE_SLICE:
                self._chunk = max(MIN_CHUNK, self._chunk // 2)
            elif took < STORE_SLICE / 4:
                self._chunk = min(MAX_CHUNK, self._chunk * 2)
            self._pending = first
        if self._pending > 0:
            self._timer.start()
            return
        found = [row for chunk in reversed(self._found) for row in chunk]
        self._found = []
        if found:
            self.beginInsertRows(QModelIndex(), 0, len(found) - 1)
            rows[0:0] = array("q", found)
            self.endInsertRows()
        self.searched.emit()

    def _source_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        if self._rows is None:
            start, new = self._count, last - first + 1
        else:
            assert self._search is not None
            accepted = self._search.matches(self._needle, first, last + 1)
            start, new = len(self._rows), len(accepted)
        if not new:
            return
        self.beginInsertRows(QModelIndex(), start, start + new - 1)
        if self._rows is None:
            self._count += new
        else:
            self._rows.extend(accepted)
        self.endInsertRows()

    def _source_reset(self) -> None:
        self._refilter()
        self.endResetModel()

    def _source_changed(self, top: QModelIndex, bottom: QModelIndex, roles: Any = ()) -> None:
        for row in range(top.row(), bottom.row() + 1):
            mapped = self.proxy_row(row)
            if mapped is not None:
                self.dataChanged.emit(self.index(mapped, top.column()),
                                      self.index(mapped, bottom.column()))

    # ---- the filter ------------------------------------------------------------------

    def set_filter_text(self, text: str) -> None:
        needle = text.strip().casefold()
        if needle == self._needle:
            return
        hint = QAbstractItemModel.LayoutChangeHint.VerticalSortHint  # columns stay put
        cast(Any, self.layoutAboutToBeChanged)[_PARENTS, _HINT].emit([], hint)
        before = self.persistentIndexList()
        sources = [self.source_row(index.row()) for index in before]
        self._needle = needle
        self._refilter()
        after = [QModelIndex() if row is None or (mapped := self.proxy_row(row)) is None
                 else self.index(mapped, index.column())
                 for index, row in zip(before, sources, strict=True)]
        self.changePersistentIndexList(before, after)
        cast(Any, self.layoutChanged)[_PARENTS, _HINT].emit([], hint)

    # ---- mapping ---------------------------------------------------------------------

    def source_row(self, row: int) -> int | None:
        """The source row shown at ``row``, or None."""
        if not 0 <= row < self.rowCount():
            return None
        return row if self._rows is None else self._rows[row]

    def source_rows(self) -> Sequence[int] | None:
        """The source rows shown, in order; None when every row is shown."""
        return self._rows

    def proxy_row(self, source_row: int) -> int | None:
        """Where source row ``source_row`` is shown, or None (filtered out)."""
        if self._rows is None:
            return source_row if 0 <= source_row < self._count else None
        at = bisect.bisect_left(self._rows, source_row)
        return at if at < len(self._rows) and self._rows[at] == source_row else None

    def mapToSource(self, proxy_index: Index) -> QModelIndex:  # noqa: N802
        source = self.sourceModel()
        if source is None or not proxy_index.isValid():
            return QModelIndex()
        row = self.source_row(proxy_index.row())
        return QModelIndex() if row is None else source.index(row, proxy_index.column())

    def mapFromSource(self, source_index: Index) -> QModelIndex:  # noqa: N802
        if not source_index.isValid():
            return QModelIndex()
        row = self.proxy_row(source_index.row())
        return QModelIndex() if row is None else self.index(row, source_index.column())

    # ---- the Qt model interface ------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if parent.isValid() or not 0 <= row < self.rowCount() \
                or not 0 <= column < self.columnCount():
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, child: Index | None = None) -> Any:
        if child is None:
            return QObject.parent(self)  # the QObject's parent, asked without an index
        return QModelIndex()

    def sibling(self, row: int, column: int, idx: Index) -> QModelIndex:
        return self.index(row, column)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        if parent.isValid():
            return 0
        return self._count if self._rows is None else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        source = self.sourceModel()
        return 0 if parent.isValid() or source is None else source.columnCount()

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        source = self.sourceModel()
        if source is not None and orientation == Qt.Orientation.Horizontal:
            return source.headerData(section, orientation, role)  # even with no row shown
        return super().headerData(section, orientation, role)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and self.rowCount() > 0

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = index.row()
        if self._rows is not None:
            if row >= len(self._rows):
                return None
            row = self._rows[row]
        elif row >= self._count:
            return None
        if self._cells is not None:
            return self._cells(row, index.column(), role)
        source = self.sourceModel()
        return source.data(source.index(row, index.column()), role)
