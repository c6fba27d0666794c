"""The FTP file client: log in, list a remote folder, move about it, download and
upload with a progress bar (and Cancel), rename, delete, make folders."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from lab.clients.ftp import Entry, FtpClient, FtpClientError
from lab.engine import Engine, EngineError
from lab.model import NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext, make_table
from ui.panels.flow import FlowLayout
from ui.panels.ftp_listing import ListingModel
from ui.panels.ftp_prompt import InlinePrompt
from ui.panels.http_body import format_size
from ui.panels.mail_common import ServerCombo, short_path

T = TypeVar("T")
Action = Callable[[FtpClient], Coroutine[Any, Any, T]]
DEFAULT_USER = "student"
DEFAULT_PASSWORD = "lab"
STEPS = 1000  # the progress bar counts in thousandths: sizes may pass 2**31


async def on_client(engine: Engine, node_id: str, action: Action[T]) -> T:
    """Runs on the engine's loop: ``action`` on the node's FtpClient."""
    client = engine.client_object(node_id)
    assert isinstance(client, FtpClient)
    return await action(client)


def default_folder() -> Path:
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.home()


class FtpClientPanel(NodePanel):
    """An FTP session: the form, the remote folder, the transfer in progress.

    Signals:
        progress(object, object): (bytes done, bytes in all), emitted on the engine
            thread while a file moves; queued to this panel's thread.
    """

    progress = Signal(object, object)

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Disconnect and remove this client")
        self.connected = False
        self.cwd = "/"
        self.local_folder = default_folder()
        self.busy = False  # a transfer is running
        self._lock = asyncio.Lock()  # one command at a time on the control connection
        self.progress.connect(self._show_progress, Qt.ConnectionType.QueuedConnection)
        self._make_form()
        self._make_listing()
        self._make_transfer_row()
        self.finish_layout()
        self._update_controls()

    # ---- layout ----------------------------------------------------------------------

    def _make_form(self) -> None:
        self.server_combo = ServerCombo("ftp", self.context.bridge, self)
        self.server_combo.setToolTip("A running lab FTP server, or type any host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
        edit.setPlaceholderText("127.0.0.1:2121")
        self.user_edit = QLineEdit(DEFAULT_USER, self)
        self.user_edit.setToolTip("USER: the lab user (read/write), or anonymous "
                                  "(download only)")
        self.password_edit = QLineEdit(DEFAULT_PASSWORD, self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setToolTip("PASS: shown in the FTP server's panel (it crosses "
                                      "the wire in clear text)")
        self.password_edit.returnPressed.connect(self._connect_clicked)
        self.show_button = QToolButton(self)
        self.show_button.setText("Show")
        self.show_button.setCheckable(True)
        self.show_button.setToolTip("Show or hide the password")
        self.show_button.toggled.connect(self._show_password)
        self.passive_box = QCheckBox("Passive", self)
        self.passive_box.setChecked(True)
        self.passive_box.setToolTip("Checked: the client opens each data connection (EPSV/"
                                    "PASV). Unchecked: active mode, the server connects "
                                    "back to the client (EPRT/PORT)")
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.clicked.connect(self._connect_clicked)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Server", self), 0, 0)
        grid.addWidget(self.server_combo, 0, 1, 1, 2)
        grid.addWidget(QLabel("User", self), 1, 0)
        grid.addWidget(self.user_edit, 1, 1, 1, 2)
        grid.addWidget(QLabel("Password", self), 2, 0)
        grid.addWidget(self.password_edit, 2, 1)
        grid.addWidget(self.show_button, 2, 2)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        row = FlowLayout()  # below the fields: a compact column (presenting) keeps them
        row.addWidget(self.passive_box)
        row.addWidget(self.connect_button)
        self.body.addLayout(row)

    def _make_listing(self) -> None:
        self.up_button = QToolButton(self)
        self.up_button.setText("↑ Up")
        self.up_button.setToolTip("The parent folder (CDUP)")
        self.up_button.clicked.connect(lambda: spawn(self.enter("..")))
        self.path_label = QLabel(self)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QToolButton(self)
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("List the folder again (LIST over a data connection)")
        self.refresh_button.clicked.connect(lambda: spawn(self.refresh()))
        path_row = QHBoxLayout()
        path_row.addWidget(self.up_button)
        path_row.addWidget(self.path_label, 1)
        path_row.addWidget(self.refresh_button)
        self.model = ListingModel(self)
        self.table = make_table(self, self.model, single=True,
                                elide=Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        # the names first: in a narrow panel the date gives way (and then the table
        # scrolls sideways) rather than every name shrinking to "…"
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(110)
        self.table.setMaximumHeight(220)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_controls())
        self.download_button = self._button("Download…", "Save the selected file in a local "
                                            "folder you choose (RETR)", self._download_clicked)
        self.upload_button = self._button("Upload…", "Send a local file into this folder "
                                          "(STOR)", self._upload_clicked)
        self.rename_button = self._button("Rename", "Rename the selected entry (RNFR, RNTO)",
                                          self._rename_clicked)
        self.delete_button = self._button("Delete", "Delete the selected file (DELE) or "
                                          "empty folder (RMD)", self._delete_clicked)
        self.mkdir_button = self._button("New folder", "Make a folder here (MKD)",
                                         self._mkdir_clicked)
        buttons = FlowLayout()  # wraps in a narrow column or at a large zoom
        for button in (self.download_button, self.upload_button, self.rename_button,
                       self.delete_button, self.mkdir_button):
            buttons.addWidget(button)
        self.prompt = InlinePrompt(self)
        self.body.addLayout(path_row)
        self.body.addWidget(self.table)
        self.body.addLayout(buttons)
        self.body.addWidget(self.prompt)

    def _button(self, text: str, tip: str, slot: Callable[[], None]) -> QToolButton:
        button = QToolButton(self)  # narrower than push buttons: the column is narrow
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _make_transfer_row(self) -> None:
        self.transfer_label = QLabel(self)
        theme.set_tone(self.transfer_label, "faint")
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, STEPS)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the transfer (ABOR); a partial download is "
                                      "removed")
        self.cancel_button.clicked.connect(lambda: spawn(self.cancel()))
        self.transfer_row = QWidget(self)
        row = QHBoxLayout(self.transfer_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.transfer_label)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        self.transfer_row.hide()
        self.status_label = QLabel("Not connected.", self)
        theme.set_tone(self.status_label, "faint")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.addWidget(self.transfer_row)
        self.body.addWidget(self.status_label)

    # ---- state -----------------------------------------------------------------------

    def describe(self, info: NodeInfo) -> str:
        if not getattr(self, "connected", False):
            return "not connected"
        return f"{self.user_edit.text().strip()} at {self.server_combo.address()}"

    def _update_controls(self) -> None:
        self.connect_button.setText("Disconnect" if self.connected else "Connect")
        self.connect_button.setToolTip("Log out (QUIT)" if self.connected else
                                       "Connect and log in (USER, PASS), then list the "
                                       "folder (LIST)")
        for widget in (self.server_combo, self.user_edit, self.password_edit,
                       self.passive_box):
            widget.setEnabled(not self.connected)
        entry = self.selected()
        idle = self.connected and not self.busy
        self.up_button.setEnabled(idle and self.cwd != "/")
        self.refresh_button.setEnabled(idle)
        self.table.setEnabled(self.connected)
        self.download_button.setEnabled(idle and entry is not None and entry.kind == "file")
        self.upload_button.setEnabled(idle)
        self.rename_button.setEnabled(idle and entry is not None)
        self.delete_button.setEnabled(idle and entry is not None)
        self.mkdir_button.setEnabled(idle)
        self.path_label.setText(f"<b>{self.cwd}</b>" if self.connected else "")
        if not idle:
            self.prompt.dismiss()
        self.update_node(self.info)

    def _show_password(self, shown: bool) -> None:
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown
                                       else QLineEdit.EchoMode.Password)
        self.show_button.setText("Hide" if shown else "Show")

    def selected(self) -> Entry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def _status(self, text: str) -> None:
        self.status_label.setText(text)

    # ---- commands --------------------------------------------------------------------

    async def _call(self, action: Action[T]) -> T | None:
        """Run ``action`` on the client, one at a time; a failure shows in red."""
        lab = self.context.lab
        async with self._lock:
            self.show_error("")
            try:
                return await lab.call(on_client, lab.engine, self.node_id, action)
            except (FtpClientError, EngineError, OSError) as exc:
                self.show_error(str(exc))
                return None

    async def _do(self, action: Action[None]) -> bool:
        """``_call`` for an action without a result: True when it worked."""
        async def run(client: FtpClient) -> bool:
            await action(client)
            return True

        return await self._call(run) is True

    def _connect_clicked(self) -> None:
        spawn(self.log_out() if self.connected else self.log_in())

    async def added(self) -> None:
        self.connect_button.setFocus()

    async def log_in(self) -> bool:
        """Log in with the form's server, user, password and mode; list the folder."""
        server = self.server_combo.address()
        user = self.user_edit.text().strip()
        password = self.password_edit.text()
        passive = self.passive_box.isChecked()
        self.connect_button.setEnabled(False)
        self._status(f"Connecting to {server}…")
        try:
            cwd = await self._call(lambda c: c.connect(server, user, password,
                                                       passive=passive))
        finally:
            self.connect_button.setEnabled(True)
        if cwd is None:
            self._status("Not connected.")
            return False
        self.connected = True
        self.cwd = cwd
        self._update_controls()
        return await self.refresh()

    async def log_out(self) -> None:
        """QUIT; the listing empties."""
        await self._do(lambda c: c.close())
        self.connected = False
        self.cwd = "/"
        self.model.set_rows([])
        self._status("Disconnected.")
        self._update_controls()

    async def refresh(self) -> bool:
        """List the current folder again."""
        entries = await self._call(lambda c: c.list())
        if entries is None:
            return False
        self._show_listing(entries)
        return True

    def _show_listing(self, entries: list[Entry]) -> None:
        self.model.set_rows(entries)
        files = sum(1 for e in entries if e.kind == "file")
        mode = "passive" if self.passive_box.isChecked() else "active"
        self._status(f"{len(entries) - files} folder(s), {files} file(s) · {mode} mode")
        self._update_controls()

    async def enter(self, name: str) -> bool:
        """Go into folder ``name`` (``..``: up) and list it."""
        async def cd_and_list(client: FtpClient) -> tuple[str, list[Entry]]:
            cwd = await client.cd(name)
            return cwd, await client.list()

        found = await self._call(cd_and_list)
        if found is None:
            return False
        self.cwd = found[0]
        self._show_listing(found[1])
        return True

    def _double_clicked(self, index: QModelIndex) -> None:
        entry = self.model.row(index.row())
        if entry is not None and entry.kind == "dir" and not self.busy:
            spawn(self.enter(entry.name))

    # ---- transfers -------------------------------------------------------------------

    def _download_clicked(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Download to", str(self.local_folder))
        if folder:
            self.local_folder = Path(folder)
            spawn(self.download(entry.name, Path(folder)))

    def _upload_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Upload a file", str(self.local_folder))
        if path:
            spawn(self.upload(Path(path)))

    async def download(self, name: str, folder: Path) -> Path | None:
        """RETR ``name`` into ``folder``, the progress bar following."""
        emit = self.progress.emit
        self._begin(f"↓ {name}")
        try:
            saved = await self._call(lambda c: c.download(name, folder, emit))
        finally:
            self._end()
        self._status(f"Downloaded {name} to {short_path(str(saved))}" if saved is not None
                     else f"{name} was not downloaded.")
        return saved

    async def upload(self, path: Path) -> str | None:
        """STOR the local ``path`` into the current folder, then list it again."""
        emit = self.progress.emit
        self._begin(f"↑ {path.name}")
        try:
            name = await self._call(lambda c: c.upload(path, emit))
        finally:
            self._end()
        if name is None:
            self._status(f"{path.name} was not uploaded.")
            return None
        if await self.refresh():
            self._status(f"Uploaded {path.name} ({format_size(path.stat().st_size)})")
            row = self.model.row_of(name)
            if row is not None:
                self.table.selectRow(row)
        return name

    async def cancel(self) -> None:
        """Stop the running transfer (it ends with an error: cancelled)."""
        async def stop(engine: Engine, node_id: str) -> None:
            client = engine.client_object(node_id)
            assert isinstance(client, FtpClient)
            client.cancel()

        lab = self.context.lab
        await lab.call(stop, lab.engine, self.node_id)

    def _begin(self, what: str) -> None:
        self.busy = True
        self.transfer_label.setText(what)
        self.progress_bar.setRange(0, STEPS)
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setValue(0)
        self.transfer_row.show()
        self._update_controls()

    def _end(self) -> None:
        self.busy = False
        self.transfer_row.hide()
        self._update_controls()

    def _show_progress(self, done: object, total: object) -> None:
        if not self.busy or not isinstance(done, int) or not isinstance(total, int):
            return
        if total <= 0:
            self.progress_bar.setRange(0, 0)  # size unknown: a busy bar
            self.progress_bar.setFormat(format_size(done))
            return
        self.progress_bar.setValue(min(STEPS, done * STEPS // total))
        self._status(f"{self.transfer_label.text()}: {format_size(done)} of "
                     f"{format_size(total)}")

    # ---- rename, delete, new folder --------------------------------------------------

    def _rename_clicked(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.prompt.ask(f"Rename {entry.name} to", "Rename", entry.name,
                            lambda new: spawn(self.rename(entry.name, new)))

    def _delete_clicked(self) -> None:
        entry = self.selected()
        if entry is not None:
            what = f"the folder {entry.name}/ (it must be empty)" if entry.kind == "dir" \
                else entry.name
            self.prompt.ask(f"Delete {what}?", "Delete", None,
                            lambda _: spawn(self.delete(entry)))

    def _mkdir_clicked(self) -> None:
        self.prompt.ask("New folder", "Create", "",
                        lambda name: spawn(self.mkdir(name)))

    async def rename(self, old: str, new: str) -> bool:
        if not new or new == old:
            return False
        if not await self._do(lambda c: c.rename(old, new)):
            return False
        return await self.refresh()

    async def delete(self, entry: Entry) -> bool:
        name = entry.name
        remove: Action[None] = (lambda c: c.rmdir(name)) if entry.kind == "dir" else \
            (lambda c: c.delete(name))
        if not await self._do(remove):
            return False
        return await self.refresh()

    async def mkdir(self, name: str) -> bool:
        if not name:
            return False
        if not await self._do(lambda c: c.mkdir(name)):
            return False
        return await self.refresh()

    async def remove(self) -> None:
        if self.busy:
            await self.cancel()
        await super().remove()
