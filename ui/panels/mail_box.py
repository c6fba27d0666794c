"""The SMTP server panel's live mailbox view: every message in the mail folder, fed
by the store's watch hook, and a small window that shows one message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from lab.engine import Engine
from lab.mail import MailEvent, MailStore, MailSummary
from ui.models.rows import RowTableModel
from ui.panels.mail_common import MessageView

COLUMNS = ("Mailbox", "From", "To", "Subject", "Time")
Index = QModelIndex | QPersistentModelIndex
MailWatch = tuple[list[MailSummary], Callable[[], None]]


def store_of(engine: Engine, node_id: str) -> MailStore | None:
    """The mail store behind a running mail server (None while it is stopped)."""
    store = getattr(engine.server_backend(node_id), "store", None)
    return store if isinstance(store, MailStore) else None


async def watch_mail(engine: Engine, node_id: str,
                     listener: Callable[[MailEvent], None]) -> MailWatch | None:
    """Runs on the engine's loop: every message in the mail folder now, and the
    function that stops ``listener`` (called after each delivery and deletion)."""
    store = store_of(engine, node_id)
    if store is None:
        return None
    stop = store.watch(listener)
    rows = [summary for name in store.mailboxes() for summary in store.list(name)]
    return rows, stop


async def read_mail(engine: Engine, node_id: str, mailbox: str, key: str) -> bytes:
    """Runs on the engine's loop: one stored message; KeyError if it is gone."""
    store = store_of(engine, node_id)
    if store is None:
        raise KeyError(key)
    return store.read(mailbox, key)


class MailboxModel(RowTableModel[MailSummary]):
    """The messages of every mailbox, oldest delivery first; changes arrive one by one
    (applying one twice changes nothing)."""

    COLUMNS = COLUMNS

    def set_rows(self, rows: list[MailSummary]) -> None:
        self.beginResetModel()
        self._rows = sorted(rows, key=lambda s: (s.delivered, s.key))
        self.endResetModel()

    def apply(self, event: MailEvent) -> None:
        at = self._find(event.mailbox, event.key)
        if event.action == "deleted":
            if at is not None:
                self.beginRemoveRows(QModelIndex(), at, at)
                del self._rows[at]
                self.endRemoveRows()
        elif at is None:
            end = len(self._rows)
            self.beginInsertRows(QModelIndex(), end, end)
            self._rows.append(event.summary)
            self.endInsertRows()

    def _find(self, mailbox: str, key: str) -> int | None:
        return next((i for i, s in enumerate(self._rows)
                     if s.key == key and s.mailbox == mailbox), None)

    def summary(self, row: int) -> MailSummary | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def subjects(self) -> list[str]:
        return [s.subject for s in self._rows]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        summary = self.summary(index.row()) if index.isValid() else None
        if summary is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            values = (summary.mailbox, summary.sender, ", ".join(summary.recipients),
                      summary.subject, time.strftime("%H:%M:%S",
                                                     time.localtime(summary.delivered)))
            return values[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{summary.subject}\nfrom {summary.sender}\nto "
                    f"{', '.join(summary.recipients)}\n{summary.date}\n"
                    f"mailbox {summary.mailbox}, {summary.size} bytes\n"
                    "Double-click to read it")
        return None


class MessageWindow(QWidget):
    """A small non-modal window with one stored message (headers and body)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.view = MessageView("", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.view)
        self.resize(560, 420)

    def show_mail(self, summary: MailSummary, raw: bytes) -> None:
        self.setWindowTitle(f"{summary.mailbox}: {summary.subject or '(no subject)'}")
        self.view.show_message(raw)
        if not self.isVisible():  # over the lab's window, not in a screen corner
            owner = self.parentWidget()
            if owner is not None:
                centre = owner.window().frameGeometry().center()
                self.move(centre - self.rect().center())
        self.show()
        self.raise_()
