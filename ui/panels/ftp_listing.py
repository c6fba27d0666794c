"""The FTP client's remote listing: folders first (with a folder icon and a slash),
then files, each with its size and modification time."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication, QStyle

from lab.clients.ftp import Entry
from ui.models.rows import RowTableModel
from ui.panels.http_body import format_size

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Name", "Size", "Modified")


def ordered(entries: list[Entry]) -> list[Entry]:
    """Folders first, then files, each by name (ignoring case)."""
    return sorted(entries, key=lambda e: (e.kind != "dir", e.name.casefold(), e.name))


class ListingModel(RowTableModel[Entry]):
    """One remote folder's entries, as ``ordered`` sorts them."""

    COLUMNS = COLUMNS

    def set_rows(self, rows: list[Entry]) -> None:
        self.beginResetModel()
        self._rows = ordered(rows)
        self.endResetModel()

    def names(self) -> list[str]:
        return [e.name for e in self._rows]

    def row_of(self, name: str) -> int | None:
        return next((i for i, e in enumerate(self._rows) if e.name == name), None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self.row(index.row()) if index.isValid() else None
        if entry is None:
            return None
        folder = entry.kind == "dir"
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return entry.name + ("/" if folder else "")
            if column == 1:
                return "" if folder else format_size(entry.size)
            return entry.modified
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            icon = (QStyle.StandardPixmap.SP_DirIcon if folder
                    else QStyle.StandardPixmap.SP_FileIcon)
            return QApplication.style().standardIcon(icon)
        if role == Qt.ItemDataRole.ToolTipRole:
            if folder:
                return f"{entry.name}/: a folder; double-click to open it (CWD)"
            return f"{entry.name}: {entry.size:,} bytes, modified {entry.modified}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
