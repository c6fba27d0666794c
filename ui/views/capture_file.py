"""Save the capture to a .cslab file, and open one (or a JSON Lines capture) read-only.

An opened capture gets a window of its own, the CaptureViewer: the same wire
(sequence diagram) and inspector as the lab's window, over the loaded messages,
with nothing to start or stop. The lab's window keeps running beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QSplitter, QWidget

from lab.model import Message
from lab.naming import Namer
from ui.bridge import EngineBridge
from ui.commands import Commands
from ui.engine_thread import EngineThread, spawn
from ui.models.messages import MESSAGE_ROLE, MessageTableModel
from ui.models.sequence import SequenceModel
from ui.views.inspector import InspectorView
from ui.views.sequence import SequenceView

if TYPE_CHECKING:  # lab.export and lab.store are imported on open and save, not at start-up
    from lab.capture import Capture
    from lab.store import Stored
    from lab.store_read import StoreReader

SAVE_FILTER = "Lab captures (*.cslab)"
#: The most characters of a name, an address or a protocol an opened capture shows.
MAX_NAME = 200
#: The most characters of a message's summary an opened capture shows.
MAX_SHOWN_SUMMARY = 2000
#: Messages of a big saved capture read, checked and shown per turn of the window's loop.
LOAD_CHUNK = 5000
OPEN_FILTER = "Captures (*.cslab *.jsonl);;Lab captures (*.cslab);;JSON Lines (*.jsonl);;All (*)"


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else f"{text[:most - 1]}…"


def cut_for_showing(stored: Stored) -> Stored:
    """``stored`` with every name, address and protocol cut to MAX_NAME characters and
    every summary to MAX_SHOWN_SUMMARY: a valid file may hold a 50 MB node name, which
    Qt would lay out (and the diagram measure) at every paint. The same object when
    nothing is too long; the raw bytes are never cut."""
    from dataclasses import replace

    from lab.store import Stored

    def short(*texts: str) -> bool:
        return all(len(text) <= MAX_NAME for text in texts)

    nodes = {id_: node if short(node.name, node.address, node.kind, node.detail)
             else replace(node, name=_cut(node.name, MAX_NAME), kind=_cut(node.kind, MAX_NAME),
                          address=_cut(node.address, MAX_NAME),
                          detail=_cut(node.detail, MAX_NAME))
             for id_, node in stored.nodes.items()}
    connections = {id_: conn if short(conn.client, conn.server, conn.protocol, conn.note)
                   else replace(conn, client=_cut(conn.client, MAX_NAME),
                                server=_cut(conn.server, MAX_NAME),
                                protocol=_cut(conn.protocol, MAX_NAME),
                                note=_cut(conn.note, MAX_NAME))
                   for id_, conn in stored.connections.items()}
    messages = [cut_message(m) for m in stored.messages]
    endpoints = {_cut(address, MAX_NAME): node for address, node in stored.endpoints.items()}
    return Stored(messages=messages, connections=connections, nodes=nodes,
                  endpoints=endpoints, meta={key: _cut(value, MAX_NAME)
                                             for key, value in stored.meta.items()})


def cut_message(message: Message) -> Message:
    """``message`` with its summary, addresses and protocol cut for showing (the same
    object when nothing is too long)."""
    from dataclasses import replace

    m = message
    if len(m.summary) <= MAX_SHOWN_SUMMARY and all(
            len(text) <= MAX_NAME for text in (m.client, m.server, m.protocol)):
        return m
    return replace(m, summary=_cut(m.summary, MAX_SHOWN_SUMMARY),
                   client=_cut(m.client, MAX_NAME), server=_cut(m.server, MAX_NAME),
                   protocol=_cut(m.protocol, MAX_NAME))


class _SavedLog:
    """Where the inspector's model reads rows that left its memory back from: a saved
    file, every message of which is there (``committed``)."""

    def __init__(self, path: Path) -> None:
        from lab.spill import WINDOW

        self.path = path
        self.window = WINDOW  # Messages the model keeps in memory
        self.recorder = SimpleNamespace(committed=sys.maxsize)
        self.shown = cut_message  # rows read back are cut as the ones read first were


class _SavedCapture:
    """A saved file as the model follows a live capture's store (``follow``)."""

    def __init__(self, path: Path) -> None:
        self.messages = _SavedLog(path)


def stored_namer(stored: Stored) -> Namer:
    """What the diagram calls one end of a message in a saved capture: the lab's names
    (lab/naming.py) over the nodes and client addresses the file kept."""
    return Namer(stored.nodes, stored.endpoints, stored.connections)


class CaptureViewer(QMainWindow):
    """A saved capture, read-only: the wire above, the inspector below."""

    def __init__(self, stored: Stored, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stored = stored
        self.path = path
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(f"{Path(path).name} (read-only) — Client-Server Lab")
        self.model = MessageTableModel(self)
        self.inspector = InspectorView(self.model, self)
        self.inspector.namer = namer = stored_namer(stored)
        self.diagram = SequenceModel(self.inspector.proxy, namer, self.is_closed, self)
        self.wire = SequenceView(self.diagram, self.inspector.table.selectionModel(), self)
        self.wire.clicked.connect(self._wire_clicked)
        self.wire.exported.connect(lambda text: self.statusBar().showMessage(text, 10000))
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.wire)
        split.addWidget(self.inspector)
        split.setSizes([500, 400])
        self.setCentralWidget(split)
        self._reader: StoreReader | None = None
        self._next = self._last = 0  # the next id to read, and the file's last
        self.loading = QTimer(self)
        self.loading.setInterval(0)
        self.loading.timeout.connect(self._read_more)
        from lab.store import is_sqlite

        count = len(stored.messages)
        if not stored.messages and is_sqlite(path):  # a big one: read as it is shown
            from lab.store_read import StoreReader

            self.model.follow(cast("Capture", _SavedCapture(Path(path))))
            self._reader = StoreReader(path)
            self._next, self._last = 1, self._reader.last_id()
            count = self._last
            self.loading.start()
        else:
            self.model.append(stored.messages)
        conns = len(stored.connections)
        made = stored.meta.get("created", "")
        self.summary = QLabel(
            f"{count:,} message{'s' if count != 1 else ''}  ·  {conns:,} connection"
            f"{'s' if conns != 1 else ''}" + (f"  ·  saved {made}" if made else ""), self)
        self.statusBar().addPermanentWidget(self.summary)
        self.resize(1200, 900)

    def _read_more(self) -> None:
        """Read, check and show the next chunk of a big file (a timer: the window stays
        responsive); a message that fails its check stops the reading, said once."""
        from lab.export import ExportError, checked
        from lab.store import StoreError

        reader = self._reader
        if reader is None or self._next > self._last:
            self._done()
            return
        last = min(self._last, self._next + LOAD_CHUNK - 1)
        try:
            chunk = [cut_message(m) for m in checked(self.path, reader.span(self._next, last))]
        except (ExportError, StoreError) as exc:
            self._done(f"Stopped reading: {exc}")
            return
        self._next = last + 1
        self.model.append(chunk)
        if self._next > self._last:
            self._done()
        else:
            self.statusBar().showMessage(
                f"Reading {self.path}: {last:,} of {self._last:,} messages…")

    def _done(self, why: str = "") -> None:
        self.loading.stop()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if why:
            self.statusBar().showMessage(why)
        else:
            self.statusBar().clearMessage()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._done()
        super().closeEvent(event)

    def is_closed(self, connection: str) -> bool:
        conn = self.stored.connections.get(connection)
        return conn is not None and conn.closed is not None

    def _wire_clicked(self, index: QModelIndex) -> None:
        message = index.data(MESSAGE_ROLE)
        if message is not None:
            self.inspector.select_message(message.id)


class CaptureFiles:
    """The window's Save capture… (Ctrl+S) and Open capture… (Ctrl+O) actions."""

    def __init__(self, window: QMainWindow, lab: EngineThread, bridge: EngineBridge) -> None:
        self.window = window
        self.lab = lab
        self.bridge = bridge
        self.folder = Path.home()
        self.viewers: list[CaptureViewer] = []
        self.save_action = QAction("Save…", window)
        self.save_action.setShortcut(QKeySequence("Ctrl+S"))
        self.save_action.setToolTip("Save the capture to a .cslab file, to open later "
                                    "read-only or export with cslab export (Ctrl+S)")
        self.save_action.triggered.connect(self.choose_save)
        self.open_action = QAction("Open…", window)
        self.open_action.setShortcut(QKeySequence("Ctrl+O"))
        self.open_action.setToolTip("Open a saved capture (.cslab or JSON Lines) read-only, "
                                    "in a window of its own (Ctrl+O)")
        self.open_action.triggered.connect(self.choose_open)
        window.addAction(self.save_action)
        window.addAction(self.open_action)

    def choose_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save the capture",
                                              str(self.folder / "capture.cslab"), SAVE_FILTER)
        if path:
            spawn(self.save(path if Path(path).suffix else f"{path}.cslab"))

    async def save(self, path: str) -> int | None:
        """Save the capture to ``path``; the status bar says how it went."""
        from lab.store import StoreError

        status = self.window.statusBar()
        try:
            count = await Commands(self.lab).save_capture(dict(self.bridge.endpoints), path)
        except StoreError as exc:
            status.showMessage(f"Save failed: {exc}", 10000)
            return None
        self.folder = Path(path).parent
        status.showMessage(f"Saved {count} message{'s' if count != 1 else ''} to {path}",
                           10000)
        return count

    def choose_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a capture", str(self.folder),
                                              OPEN_FILTER)
        if path:
            self.open(path)

    def open(self, path: str) -> CaptureViewer | None:
        """Show the capture at ``path`` in a new read-only window (None, and a message
        box saying why, if it cannot be read)."""
        from lab.export import ExportError, load_for_viewing

        try:
            stored = load_for_viewing(path)
        except ExportError as exc:
            QMessageBox.warning(self.window, "Cannot open the capture", str(exc))
            return None
        return self.show(stored, path)

    def show(self, stored: Stored, path: str) -> CaptureViewer:
        """Show ``stored`` (read from ``path``) in a new read-only window, its overlong
        names and summaries cut (see ``cut_for_showing``)."""
        self.folder = Path(path).parent
        viewer = CaptureViewer(cut_for_showing(stored), path, self.window)
        self.viewers.append(viewer)
        viewer.destroyed.connect(lambda: self.viewers.remove(viewer)
                                 if viewer in self.viewers else None)
        viewer.show()
        return viewer
