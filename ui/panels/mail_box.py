"""The mail server panels' mailbox view: every message in the mail folder, from the
server's ServerState (a MailView), and a small window that shows one message."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from lab.mail import MailSummary
from ui.models.rows import RowTableModel
from ui.panels.mail_common import MessageView

COLUMNS = ("Mailbox", "From", "To", "Subject", "Time")
Index = QModelIndex | QPersistentModelIndex


class MailboxModel(RowTableModel[MailSummary]):
    """The messages of every mailbox, oldest delivery first, as the server's state
    lists them."""

    COLUMNS = COLUMNS

    def set_rows(self, rows: list[MailSummary]) -> None:
        rows = sorted(rows, key=lambda s: (s.delivered, s.key))
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

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
