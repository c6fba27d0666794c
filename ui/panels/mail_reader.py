"""The mailbox reader: open a POP3 maildrop, list it, read a message, mark messages
for deletion, and close (QUIT), which is when the server deletes them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from lab.clients.pop3 import MailReader, Pop3Error, Summary
from lab.engine import Engine, EngineError
from lab.model import NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.models.rows import RowTableModel
from ui.panels.base import NodePanel, PanelContext, make_table
from ui.panels.http_body import format_size
from ui.panels.mail_common import MessageView, ServerCombo

T = TypeVar("T")
Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("#", "From", "Subject", "Size")
DEFAULT_USER = "ann"
DEFAULT_PASSWORD = "lab"
DELETE_NOTE = "Deleted when you close the mailbox (QUIT)."


async def on_reader(engine: Engine, node_id: str,
                    action: Callable[[MailReader], Coroutine[Any, Any, T]]) -> T:
    """Runs on the engine's loop: ``action`` on the node's MailReader."""
    reader = engine.client_object(node_id)
    assert isinstance(reader, MailReader)
    return await action(reader)


class MaildropModel(RowTableModel[Summary]):
    """The messages of an open maildrop; those marked with DELE show struck out."""

    COLUMNS = COLUMNS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.deleted: set[int] = set()

    def set_rows(self, rows: list[Summary]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.deleted = set()
        self.endResetModel()

    def mark_deleted(self, number: int) -> None:
        self.deleted.add(number)
        row = next((i for i, s in enumerate(self._rows) if s.number == number), None)
        if row is not None:
            self.row_changed(row)

    def summary(self, row: int) -> Summary | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def subjects(self) -> list[str]:
        return [s.subject for s in self._rows]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        summary = self.summary(index.row()) if index.isValid() else None
        if summary is None:
            return None
        gone = summary.number in self.deleted
        if role == Qt.ItemDataRole.DisplayRole:
            values = (str(summary.number), summary.sender, summary.subject,
                      format_size(summary.size))
            return values[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{summary.subject}\nfrom {summary.sender}\n{summary.date}"
            return tip + (f"\nmarked for deletion: {DELETE_NOTE.lower()}" if gone else "")
        if role == Qt.ItemDataRole.ForegroundRole and gone:
            return theme.qcolour("faint")
        if role == Qt.ItemDataRole.FontRole and gone:
            font = QFont()
            font.setStrikeOut(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (0, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class MailReaderPanel(NodePanel):
    """Log in to a POP3 server, list the maildrop, read, delete, close."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Close the mailbox and remove this reader")
        self.is_open = False
        self.mailbox = ""
        self.shown_number = 0
        self._lock = asyncio.Lock()  # one POP3 command at a time on the one connection
        self.server_combo = ServerCombo("pop3", context.bridge, self)
        self.server_combo.setToolTip("A running lab POP3 server, or type any host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
        edit.setPlaceholderText("127.0.0.1:1110")
        self.user_edit = QLineEdit(DEFAULT_USER, self)
        self.user_edit.setToolTip("The mailbox name: ann for ann@lab.test (USER)")
        self.password_edit = QLineEdit(DEFAULT_PASSWORD, self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setToolTip("The lab password, shown in the POP3 server's panel "
                                      "(PASS; it crosses the wire in clear text)")
        self.password_edit.returnPressed.connect(self._open_clicked)
        self.show_button = QToolButton(self)
        self.show_button.setText("Show")
        self.show_button.setCheckable(True)
        self.show_button.setToolTip("Show or hide the password")
        self.show_button.toggled.connect(self._show_password)
        self.open_button = QPushButton("Open", self)
        self.open_button.setToolTip("Log in and list the mailbox (USER, PASS, LIST, UIDL, TOP)")
        self.open_button.clicked.connect(self._open_clicked)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Server", self), 0, 0)
        grid.addWidget(self.server_combo, 0, 1, 1, 3)
        grid.addWidget(QLabel("User", self), 1, 0)
        grid.addWidget(self.user_edit, 1, 1, 1, 3)
        grid.addWidget(QLabel("Password", self), 2, 0)
        grid.addWidget(self.password_edit, 2, 1)
        grid.addWidget(self.show_button, 2, 2)
        grid.addWidget(self.open_button, 2, 3)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        self._make_list()
        self.view = MessageView("Select a message to read it (RETR).", self)
        self.view.setMinimumHeight(150)
        self.body.addWidget(self.view, 1)
        self.finish_layout()
        self._update_controls()

    def _make_list(self) -> None:
        self.model = MaildropModel(self)
        self.table = make_table(self, self.model, single=True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # they share what
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # a narrow panel has
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(90)
        self.table.setMaximumHeight(150)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._selection_changed)
        self.status_label = QLabel("Closed: open a mailbox to list it.", self)
        theme.set_tone(self.status_label, "faint")
        self.status_label.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("List the mailbox again (LIST, UIDL, TOP); new mail "
                                       "shows only after Close and Open (RFC 1939 locks the "
                                       "maildrop as it was at login)")
        self.refresh_button.clicked.connect(lambda: self._run(self.refresh()))
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip(f"Mark the selected message for deletion (DELE). "
                                      f"{DELETE_NOTE}")
        self.delete_button.clicked.connect(lambda: self._run(self.delete_selected()))
        row = QHBoxLayout()
        row.addWidget(self.status_label, 1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.delete_button)
        self.body.addWidget(self.table)
        self.body.addLayout(row)

    # ---- state ---------------------------------------------------------------------

    def describe(self, info: NodeInfo) -> str:
        if not getattr(self, "is_open", False):
            return "mailbox closed"
        count = self.model.rowCount() - len(self.model.deleted)
        return f"{self.mailbox}: {count} message{'s' if count != 1 else ''}"

    def _update_controls(self) -> None:
        self.open_button.setText("Close" if self.is_open else "Open")
        self.open_button.setToolTip("Log out (QUIT): messages marked for deletion go now"
                                    if self.is_open else
                                    "Log in and list the mailbox (USER, PASS, LIST, UIDL, TOP)")
        for widget in (self.server_combo, self.user_edit, self.password_edit):
            widget.setEnabled(not self.is_open)
        self.refresh_button.setEnabled(self.is_open)
        number = self.selected_number()
        self.delete_button.setEnabled(self.is_open and number is not None
                                      and number not in self.model.deleted)
        self.update_node(self.info)

    def _show_password(self, shown: bool) -> None:
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown
                                       else QLineEdit.EchoMode.Password)
        self.show_button.setText("Hide" if shown else "Show")

    def selected_number(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        summary = self.model.summary(rows[0].row()) if rows else None
        return summary.number if summary is not None else None

    def _status(self, text: str) -> None:
        self.status_label.setText(text)

    # ---- commands --------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, Any]) -> None:
        spawn(coro)

    async def _call(self, action: Callable[[MailReader], Coroutine[Any, Any, T]]) -> T | None:
        """Run ``action`` on the reader, one at a time; a failure shows in red."""
        lab = self.context.lab
        async with self._lock:
            self.show_error("")
            try:
                return await lab.call(on_reader, lab.engine, self.node_id, action)
            except (Pop3Error, EngineError) as exc:
                self.show_error(str(exc))
                return None

    def _open_clicked(self) -> None:
        self._run(self.close_mailbox() if self.is_open else self.open_mailbox())

    async def added(self) -> None:
        self.user_edit.setFocus()

    async def open_mailbox(self) -> bool:
        """Log in with the form's server, user and password, and list the maildrop."""
        server = self.server_combo.address()
        user = self.user_edit.text().strip()
        password = self.password_edit.text()
        self.open_button.setEnabled(False)
        self._status(f"Opening {user}…")
        try:
            rows = await self._call(lambda reader: reader.open(server, user, password))
        finally:
            self.open_button.setEnabled(True)
        if rows is None:
            self._status("Closed: could not open the mailbox.")
            return False
        self.is_open = True
        self.mailbox = user
        self._show_rows(rows)
        return True

    async def refresh(self) -> None:
        rows = await self._call(lambda reader: reader.list())
        if rows is not None:
            self._show_rows(rows)

    def _show_rows(self, rows: list[Summary]) -> None:
        self.model.set_rows(rows)
        self.view.clear()
        self.shown_number = 0
        total = sum(s.size for s in rows)
        self._status(f"{len(rows)} message{'s' if len(rows) != 1 else ''}, "
                     f"{format_size(total)}")
        self._update_controls()

    def _selection_changed(self, selected: QItemSelection, _: QItemSelection) -> None:
        self._update_controls()
        number = self.selected_number()
        if number is not None and number != self.shown_number and self.is_open:
            self._run(self.read(number))

    async def read(self, number: int) -> bytes | None:
        """RETR ``number`` and show it."""
        if number in self.model.deleted:
            self.view.clear()
            self._status(f"Message {number} is marked for deletion. {DELETE_NOTE}")
            return None
        raw = await self._call(lambda reader: reader.read(number))
        if raw is None:
            return None
        self.shown_number = number
        self.view.show_message(raw)
        return raw

    async def delete_selected(self) -> bool:
        number = self.selected_number()
        if number is None:
            return False
        text = await self._call(lambda reader: reader.delete(number))
        if text is None:
            return False
        self.model.mark_deleted(number)
        if self.shown_number == number:
            self.view.clear()
            self.shown_number = 0
        self._status(f"Message {number} marked for deletion. {DELETE_NOTE}")
        self._update_controls()
        return True

    async def close_mailbox(self) -> str:
        """QUIT: the server deletes what was marked; the list empties."""
        deleted = len(self.model.deleted)
        goodbye = await self._call(lambda reader: reader.close())
        self.is_open = False
        self.model.set_rows([])
        self.view.clear()
        self.shown_number = 0
        if goodbye is not None:
            gone = f" ({deleted} deleted)" if deleted else ""
            self._status(f"Closed{gone}: +OK {goodbye}".rstrip())
        self._update_controls()
        return goodbye or ""

