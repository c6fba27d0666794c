"""The panel of the HTTP server: what the echo server panel has, plus the folder it
serves and the REST API's ``notes`` table, live, so a class sees a POST change it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QWidget,
)

from lab.engine import Engine, EngineError
from lab.model import NodeInfo, NodeState
from ui import theme
from ui.engine_thread import spawn
from ui.models.rows import RowTableModel
from ui.panels.base import PanelContext
from ui.panels.echo_server import EchoServerPanel
from ui.presentation import text_width

COLUMNS = ("id", "title", "body")
Row = dict[str, Any]
Index = QModelIndex | QPersistentModelIndex
Watch = tuple[list[Row], str, Callable[[], None]] | None


async def watch_notes(engine: Engine, node_id: str,
                      listener: Callable[[object], None]) -> Watch:
    """Runs on the engine's loop (SQLite wants its own thread): the notes now, the
    folder served, and the function that stops ``listener``; None without a backend."""
    backend: Any = engine.server_backend(node_id)
    notes = getattr(backend, "notes", None)
    if notes is None or not hasattr(notes, "watch"):
        return None
    stop = notes.watch(listener)
    return list(notes.rows()), str(getattr(backend, "root", "")), stop


class NotesModel(RowTableModel[Row]):
    """The rows of the ``notes`` table, by id; changes arrive one by one."""

    COLUMNS = COLUMNS

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self._rows = sorted(rows, key=lambda r: int(r.get("id", 0)))
        self.endResetModel()

    def apply(self, action: str, note_id: int, row: Row | None) -> None:
        """One change (created, replaced, updated, deleted), as the store reported it."""
        at = next((i for i, r in enumerate(self._rows) if r.get("id") == note_id), None)
        if row is None or action == "deleted":
            if at is not None:
                self.beginRemoveRows(QModelIndex(), at, at)
                del self._rows[at]
                self.endRemoveRows()
        elif at is None:
            end = len(self._rows)
            self.beginInsertRows(QModelIndex(), end, end)
            self._rows.append(dict(row))
            self.endInsertRows()
        else:
            self._rows[at] = dict(row)
            self.row_changed(at)

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
    """The HTTP server: port, start/stop, connections, its site folder and notes.

    Signals:
        notes_changed(object): a NotesChange, emitted on the engine thread; queued
            to this panel's (Qt) thread, where the table is updated.
    """

    notes_changed = Signal(object)

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self._stop_watch: Callable[[], None] | None = None
        super().__init__(info, context, parent)
        self.notes_changed.connect(self._apply_change, Qt.ConnectionType.QueuedConnection)

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
        lab = self.context.lab
        await self._unwatch()
        self.show_error("")
        try:
            info = await lab.call(lab.engine.set_server_options, self.node_id, root=folder)
        except EngineError as exc:
            self.show_error(f"Could not serve {folder}: {exc}")
            return
        self._show_site(folder)
        self.update_node(info)
        if info.state is NodeState.RUNNING:
            await self._watch()

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        if info.state is not NodeState.RUNNING and self._stop_watch is not None:
            self._stop_watch = None  # the backend and its listeners are gone with it

    async def start(self) -> None:
        await super().start()
        if self.info.state is NodeState.RUNNING:
            await self._watch()

    async def _watch(self) -> None:
        lab = self.context.lab
        watched = await lab.call(watch_notes, lab.engine, self.node_id, self.notes_changed.emit)
        if watched is None:
            self.notes_label.setText("REST API: no live table for this server")
            return
        rows, root, self._stop_watch = watched
        self.notes_model.set_rows(rows)
        self._show_site(root)

    def _apply_change(self, change: object) -> None:
        self.notes_model.apply(str(getattr(change, "action", "")),
                               int(getattr(change, "note_id", 0)),
                               getattr(change, "row", None))

    async def _unwatch(self) -> None:
        stop, self._stop_watch = self._stop_watch, None
        await self.stop_watch(stop)

    async def stop(self) -> None:
        await self._unwatch()
        await super().stop()

    async def remove(self) -> None:
        await self._unwatch()
        await super().remove()
