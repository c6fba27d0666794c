"""The mailbox reader: open a POP3 maildrop, list it, read a message, mark messages
for deletion, and close (QUIT), which is when the server deletes them.

The panel shows the client's state only (ClientState: the settings in the fields,
the MailboxView in the list and the message pane); its buttons send the actions a
lesson's steps send too (open, list, retr N, dele N, close)."""

from __future__ import annotations

from typing import Any

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

from lab.clients.pop3 import MailboxView, Summary
from lab.model import ClientState, NodeInfo, Outcome
from ui import theme
from ui.engine_thread import spawn
from ui.models.rows import RowTableModel
from ui.panels.base import NodePanel, PanelContext, make_table
from ui.panels.http_body import format_size
from ui.panels.mail_common import MessageView, ServerCombo, SettingFields

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("#", "From", "Subject", "Size")
DELETE_NOTE = "Deleted when you close the mailbox (QUIT)."
CLOSED = "Mailbox closed: open it to list the messages."


class MaildropModel(RowTableModel[Summary]):
    """The messages of an open maildrop; those marked with DELE show struck out."""

    COLUMNS = COLUMNS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.deleted: set[int] = set()

    def show(self, rows: tuple[Summary, ...], deleted: frozenset[int]) -> None:
        """Show ``rows`` with ``deleted`` struck out; the same rows again only
        repaint the ones whose mark changed (the selection stays)."""
        if list(rows) != self._rows:
            self.beginResetModel()
            self._rows = list(rows)
            self.deleted = set(deleted)
            self.endResetModel()
            return
        changed = self.deleted ^ deleted
        self.deleted = set(deleted)
        for row, summary in enumerate(self._rows):
            if summary.number in changed:
                self.row_changed(row)

    def row_of(self, number: int) -> int | None:
        return next((i for i, s in enumerate(self._rows) if s.number == number), None)

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
        self.mailbox_view = MailboxView()
        self._shown_message: tuple[int, bytes] = (0, b"")  # in the message pane
        self._selected_read = 0  # the message whose row the panel selected last
        self.fields = SettingFields()
        self.server_combo = ServerCombo("pop3", context.bridge, self)
        self.server_combo.setToolTip("A running lab POP3 server, or type any host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
        edit.setPlaceholderText("127.0.0.1:1110")
        self.user_edit = QLineEdit(self)
        self.user_edit.setToolTip("The mailbox name: ann for ann@lab.test (USER)")
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setToolTip("The lab password, shown in the POP3 server's panel "
                                      "(PASS; it crosses the wire in clear text)")
        self.password_edit.returnPressed.connect(self._open_clicked)
        for name, widget in (("server", self.server_combo), ("user", self.user_edit),
                             ("password", self.password_edit)):
            self.fields.add(name, widget)
        self.show_button = QToolButton(self)
        self.show_button.setText("Show")
        self.show_button.setCheckable(True)
        self.show_button.setToolTip("Show or hide the password")
        self.show_button.toggled.connect(self._show_password)
        self.open_button = QPushButton("Open", self)
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
        self.status_label = QLabel(CLOSED, self)
        theme.set_tone(self.status_label, "faint")
        self.status_label.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("List the mailbox again (LIST, UIDL, TOP); new mail "
                                       "shows only after Close and Open (RFC 1939 locks the "
                                       "maildrop as it was at login)")
        self.refresh_button.clicked.connect(lambda: spawn(self.refresh()))
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip(f"Mark the selected message for deletion (DELE). "
                                      f"{DELETE_NOTE}")
        self.delete_button.clicked.connect(lambda: spawn(self.delete_selected()))
        row = QHBoxLayout()
        row.addWidget(self.status_label, 1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.delete_button)
        self.body.addWidget(self.table)
        self.body.addLayout(row)

    # ---- state ---------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.mailbox_view.is_open

    @property
    def shown_number(self) -> int:
        """The number of the message in the pane (0: none)."""
        return self._shown_message[0]

    def describe(self, info: NodeInfo) -> str:
        view = getattr(self, "mailbox_view", None)
        if getattr(self.state, "busy", "") or view is None:
            return super().describe(info)
        if not view.is_open:
            return "mailbox closed"
        count = len(view.rows) - len(view.deleted)
        return f"{view.mailbox}: {count} message{'s' if count != 1 else ''}"

    def show_state(self, state: ClientState) -> None:
        """The settings in the fields, the maildrop in the list, the message read."""
        self.fields.show(state)
        view = state.view if isinstance(state.view, MailboxView) else MailboxView()
        self.mailbox_view = view
        self.model.show(view.rows, view.deleted)
        if view.number != self._selected_read:  # a message read: its row selected
            self._selected_read = view.number
            row = self.model.row_of(view.number)
            if row is not None:
                self.table.selectRow(row)
        self._show_message(view)
        self.status_label.setText(self._status_text(view))
        self._update_controls()

    def _show_message(self, view: MailboxView) -> None:
        shown = ((view.number, view.message) if view.is_open and view.message
                 and view.number not in view.deleted else (0, b""))
        if shown == self._shown_message:
            return
        self._shown_message = shown
        if shown[0]:
            self.view.show_message(shown[1])
        else:
            self.view.clear()

    @staticmethod
    def _status_text(view: MailboxView) -> str:
        if not view.is_open:
            return CLOSED
        if view.number and view.number in view.deleted:
            return f"Message {view.number} is marked for deletion. {DELETE_NOTE}"
        if view.deleted:
            many = len(view.deleted)
            return f"{many} message{'s' if many != 1 else ''} marked for deletion. {DELETE_NOTE}"
        total = sum(s.size for s in view.rows)
        count = len(view.rows)
        return f"{count} message{'s' if count != 1 else ''}, {format_size(total)}"

    def _update_controls(self) -> None:
        is_open, busy = self.is_open, bool(getattr(self.state, "busy", ""))
        self.open_button.setText("Close" if is_open else "Open")
        self.open_button.setToolTip("Log out (QUIT): messages marked for deletion go now"
                                    if is_open else
                                    "Log in and list the mailbox (USER, PASS, LIST, UIDL, TOP)")
        # Close ends what is under way; before the first state the fields are empty.
        self.open_button.setEnabled(is_open or not (busy or self.state is None))
        for widget in (self.server_combo, self.user_edit, self.password_edit):
            widget.setEnabled(not is_open and not busy)
        self.refresh_button.setEnabled(is_open and not busy)
        number = self.selected_number()
        self.delete_button.setEnabled(is_open and not busy and number is not None
                                      and number not in self.mailbox_view.deleted)
        self.state_label.setText(self.describe(self.info))

    def _show_password(self, shown: bool) -> None:
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown
                                       else QLineEdit.EchoMode.Password)
        self.show_button.setText("Hide" if shown else "Show")

    def selected_number(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        summary = self.model.summary(rows[0].row()) if rows else None
        return summary.number if summary is not None else None

    # ---- commands --------------------------------------------------------------------

    def _open_clicked(self) -> None:
        if self.open_button.isEnabled():  # Return in the password field too
            spawn(self.close_mailbox() if self.is_open else self.open_mailbox())

    async def added(self) -> None:
        self.user_edit.setFocus()

    async def open_mailbox(self) -> Outcome | None:
        """Log in with the form's server, user and password, and list the maildrop."""
        self.open_button.setEnabled(False)  # until the engine's state says otherwise
        try:
            return await self.act("open", **self.fields.values())
        finally:
            self._update_controls()

    async def refresh(self) -> Outcome | None:
        return await self.act("list")

    def _selection_changed(self, selected: QItemSelection, _: QItemSelection) -> None:
        self._update_controls()
        number = self.selected_number()
        view = self.mailbox_view
        if (number is not None and view.is_open and number != view.number
                and number not in view.deleted):
            spawn(self.read(number))

    async def read(self, number: int) -> Outcome | None:
        """RETR ``number``; the message shows when the engine publishes it."""
        return await self.act("retr", str(number))

    async def delete_selected(self) -> Outcome | None:
        number = self.selected_number()
        return None if number is None else await self.act("dele", str(number))

    async def close_mailbox(self) -> Outcome | None:
        """QUIT: the server deletes what was marked; the list empties."""
        return await self.act("close")
