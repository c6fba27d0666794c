"""The FTP client's remote listing: folders first (with a folder icon and a slash),
then files, each with its size and modification time; and its transfer row: the
last transfer (FtpView's), its progress, and Cancel while it runs."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from lab.clients.ftp import Entry
from lab.clients.ftp_actions import FtpView
from ui import theme
from ui.models.rows import RowTableModel
from ui.panels.http_body import format_size
from ui.panels.mail_common import short_path

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Name", "Size", "Modified")
STEPS = 1000  # the progress bar counts in thousandths: sizes may pass 2**31


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


def transfer_sentence(view: FtpView) -> str:
    """What became of the view's last transfer, for a person."""
    verb, _, name = view.transfer.partition(" ")
    if not view.result:
        if view.total > 0:
            return f"{name}: {format_size(view.done)} of {format_size(view.total)}"
        return f"{name}: {format_size(view.done)}"
    if view.result != "done":
        return f"{name} was not {verb}ed: {view.result}"
    if verb == "download":
        return f"Downloaded {name} to {short_path(view.saved)}"
    return f"Uploaded {name} ({format_size(view.total)})"


class TransferRow(QWidget):
    """The last transfer: ↓ or ↑ and its name, a progress bar, Cancel (enabled
    while it runs), and a line saying how far it got or what became of it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        theme.set_tone(self.label, "faint")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, STEPS)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the transfer (ABOR); a partial download is "
                                      "removed")
        self.note = QLabel(self)
        theme.set_tone(self.note, "faint")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(row)
        column.addWidget(self.note)
        self.hide()

    def show_view(self, view: FtpView) -> None:
        """Show the view's last transfer (hidden if there has been none)."""
        self.setVisible(bool(view.transfer))
        if not view.transfer:
            return
        verb, _, name = view.transfer.partition(" ")
        self.label.setText(("↓ " if verb == "download" else "↑ ") + name)
        running = not view.result
        self.cancel_button.setEnabled(running)
        if running and view.total <= 0:
            self.bar.setRange(0, 0)  # size unknown: a busy bar
        else:
            self.bar.setRange(0, STEPS)
            if view.result == "done":
                self.bar.setValue(STEPS)
            else:
                self.bar.setValue(min(STEPS, view.done * STEPS // max(view.total, 1)))
        self.bar.setFormat("%p%")
        self.note.setText(transfer_sentence(view))
