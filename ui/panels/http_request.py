"""The request composer's form and the engine's settings: the header rows as the
``headers`` setting, and a field set from a setting without fighting the user."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from lab.clients.http import METHODS, MODES, Sent, encode_body, format_headers, parse_headers

__all__ = ["METHODS", "MODES", "Headers", "HeadersTable", "Sent", "encode_body", "format_headers",
           "parse_headers", "set_combo", "set_line", "set_plain", "start_url", "target_text"]

Headers = list[tuple[str, str]]


class HeadersTable(QTableWidget):
    """The headers to send, a row each (Header, Value), editable in place."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Header", "Value"])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().hide()
        self.setToolTip("Headers to send; Host and Content-Length are added for you")

    def add(self, name: str, value: str) -> None:
        """A row; an empty one is opened for typing."""
        row = self.rowCount()
        self.insertRow(row)
        self.setItem(row, 0, QTableWidgetItem(name))
        self.setItem(row, 1, QTableWidgetItem(value))
        item = self.item(row, 0)
        if not name and item is not None:
            self.setCurrentCell(row, 0)
            self.editItem(item)

    def remove_current(self) -> None:
        row = self.currentRow()
        if row >= 0:
            self.removeRow(row)

    def pairs(self) -> Headers:
        """The rows with a name, in order."""
        found = []
        for row in range(self.rowCount()):
            name, value = (self.item(row, col) for col in (0, 1))
            key = name.text().strip() if name is not None else ""
            if key:
                found.append((key, value.text().strip() if value is not None else ""))
        return found

    def show_pairs(self, pairs: Headers) -> None:
        """Show ``pairs`` unless the rows say so already or one is being edited."""
        if pairs == self.pairs() or self.state() == QAbstractItemView.State.EditingState:
            return
        self.setRowCount(0)
        for name, value in pairs:
            self.add(name, value)


def set_line(edit: QLineEdit, text: str) -> None:
    """Show ``text`` in ``edit`` unless it shows it already or the user is typing
    there (focus, edited since last set)."""
    if edit.text() == text or (edit.hasFocus() and edit.isModified()):
        return
    edit.setText(text)
    edit.setModified(False)
    edit.setCursorPosition(0)


def set_combo(combo: QComboBox, text: str) -> None:
    """``set_line`` for an editable combo box's line."""
    edit = combo.lineEdit()
    if edit is not None:
        set_line(edit, text)


def set_plain(edit: QPlainTextEdit, text: str) -> None:
    """``set_line`` for a text area."""
    if edit.toPlainText() == text or (edit.hasFocus() and edit.document().isModified()):
        return
    edit.setPlainText(text)
    edit.document().setModified(False)


def start_url(server: str, host: str = "") -> str:
    """The URL of the ``server`` setting's root (by the ``host`` setting's name if
    there is one), where a client starts before it has a URL; "" without a server."""
    if not server:
        return ""
    if host:
        server = f"{host}:{server.rpartition(':')[2]}"
    return f"http://{server}/"


def target_text(server: str, host: str = "") -> str:
    """What the panel says of the ``server`` and ``host`` settings (a lesson's paths
    go there)."""
    if not server:
        return ""
    return f"Server {server}" + (f", named {host}" if host else "")
