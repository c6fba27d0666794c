"""The panel of the HTTP server: what the echo server panel has, plus the folder it
serves and the REST API's ``notes`` table, live, so a class sees a POST change it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
)

from lab.engine import EngineError
from lab.servers.http_live import NotesView
from ui import theme
from ui.engine_thread import spawn
from ui.models.rows import RowTableModel
from ui.panels.echo_server import EchoServerPanel
from ui.presentation import text_width

COLUMNS = ("id", "title", "body")
Row = dict[str, Any]
Index = QModelIndex | QPersistentModelIndex


class NotesModel(RowTableModel[Row]):
    """The rows of the ``notes`` table, by id, as the server's state lists them."""

    COLUMNS = COLUMNS

    def set_rows(self, rows: list[Row]) -> None:
        rows = sorted(rows, key=lambda r: int(r.get("id", 0)))
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = self._rows[index.row()].get(COLUMNS[index.column()], "")
            return str(value)
        return None

    def titles(self) -> list[str]:
        return [str(r.get("title", "")) for r in self._rows]


class HttpServerPanel(EchoServerPanel):
    """The HTTP server: port, start/stop, connections, its site folder and notes
    (from the server's state)."""

    def finish_layout(self) -> None:
        """The echo server's rows, then the folder and the notes (the error line last)."""
        self.site_label = QLabel(self)
        self.site_label.setWordWrap(True)
        self.site_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.set_tone(self.site_label, "faint")
        self.site_label.setToolTip("The folder served at / (the sample site unless you "
                                   "choose another; cslab serve http --root DIR)")
        self.choose_button = QPushButton("Choose…", self)
        self.choose_button.setToolTip("Serve another folder (a running server restarts on "
                                      "the same port)")
        self.choose_button.clicked.connect(self._choose_clicked)
        self._show_site("")
        self.notes_model = NotesModel(self)
        self.notes_view = QTableView(self)
        self.notes_view.setModel(self.notes_model)
        self.notes_view.verticalHeader().hide()
        self.notes_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.notes_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.notes_view.setWordWrap(False)
        header = self.notes_view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.notes_view.setColumnWidth(1, text_width(self.notes_view, "A note's title"))
        self.notes_view.setMinimumHeight(110)
        self.notes_view.setMaximumHeight(180)
        self.notes_label = QLabel("REST API: /api/notes (live)", self)
        self.notes_label.setToolTip("The SQLite table behind /api/notes; a POST, PUT, PATCH "
                                    "or DELETE shows here at once")
        site_row = QHBoxLayout()
        site_row.addWidget(self.site_label, 1)
        site_row.addWidget(self.choose_button)
        self.body.addLayout(site_row)
        self.body.addWidget(self.notes_label)
        self.body.addWidget(self.notes_view)
        super().finish_layout()

    def _show_site(self, root: str) -> None:
        if not root:
            from lab.paths import site_dir
            root = str(site_dir())
        shown = root.replace(str(Path.home()), "~", 1)
        self.site_label.setText(f"Site folder: {shown}")

    def _choose_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to serve", str(Path.home()))
        if folder:
            spawn(self.serve_folder(folder))

    async def serve_folder(self, folder: str) -> None:
        """Serve ``folder`` from now on; restarts the server if it is running."""
        self.show_error("")
        try:
            info = await self.context.commands.set_server_options(self.node_id, root=folder)
        except (EngineError, OSError, ValueError) as exc:
            self.show_error(f"Could not serve {folder}: {exc}")
            return
        self._show_site(folder)
        self.update_node(info)

    def show_view(self, view: Any) -> None:
        """The notes table now (none while the server is stopped) and the folder."""
        live = isinstance(view, NotesView)
        self.notes_model.set_rows([{"id": n.id, "title": n.title, "body": n.body}
                                   for n in view.notes] if live else [])
        self.notes_label.setText("REST API: /api/notes (live)" if live
                                 else "REST API: /api/notes (shown while the server runs)")
        if live:
            self._show_site(view.root)
