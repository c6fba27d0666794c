"""The FTP client: log in, list a remote folder, move about it, download and
upload with a progress bar (and Cancel), rename, delete, make folders.

The panel shows the client's state as the engine publishes it (settings in the
fields, FtpView in the listing and the transfer row), whether a click or a lesson
step caused it; its buttons run the client's actions (lab/clients/ftp.py ``act``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from lab.clients.ftp import Entry
from lab.clients.ftp_actions import FtpView
from lab.model import ClientState, NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext, make_table
from ui.panels.flow import FlowLayout
from ui.panels.ftp_listing import ListingModel, TransferRow
from ui.panels.ftp_prompt import InlinePrompt
from ui.panels.mail_common import ServerCombo


def default_folder() -> Path:
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.home()


def sync_edit(edit: QLineEdit, value: str) -> None:
    """Show ``value`` in ``edit``, unless the user is typing there."""
    if not (edit.hasFocus() and edit.isModified()) and edit.text() != value:
        edit.setText(value)


class FtpClientPanel(NodePanel):
    """An FTP session: the form, the remote folder, the last transfer."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Disconnect and remove this client")
        self.view = FtpView()
        self.local_folder = default_folder()
        self._shown: dict[str, str] | None = None  # the settings the fields last took
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
        self.user_edit = QLineEdit(self)
        self.user_edit.setToolTip("USER: the lab user (read/write), or anonymous "
                                  "(download only)")
        self.password_edit = QLineEdit(self)
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
        self.transfer_row = TransferRow(self)
        self.transfer_label = self.transfer_row.label
        self.progress_bar = self.transfer_row.bar
        self.cancel_button = self.transfer_row.cancel_button
        self.cancel_button.clicked.connect(lambda: spawn(self.cancel()))
        self.status_label = QLabel("Not connected.", self)
        theme.set_tone(self.status_label, "faint")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.addWidget(self.transfer_row)
        self.body.addWidget(self.status_label)

    # ---- state -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.view.connected

    @property
    def cwd(self) -> str:
        return self.view.cwd

    @property
    def busy(self) -> bool:
        """An action is under way (the engine runs one at a time)."""
        return bool(getattr(self.state, "busy", ""))

    @property
    def transferring(self) -> bool:
        return bool(self.view.transfer) and not self.view.result

    def show_state(self, state: ClientState) -> None:
        self._show_settings(state)
        view = state.view if isinstance(state.view, FtpView) else FtpView()
        if view.entries != self.view.entries:  # a reset would lose the selection
            self.model.set_rows(list(view.entries))
        self.view = view
        self.transfer_row.show_view(view)
        if view.connected:
            files = sum(1 for e in view.entries if e.kind == "file")
            self.status_label.setText(f"{len(view.entries) - files} folder(s), {files} "
                                      f"file(s) · {view.mode} mode")
        else:
            self.status_label.setText("Not connected.")
        self._update_controls()

    def _show_settings(self, state: ClientState) -> None:
        """Each setting that changed since the fields last took them, in its field."""
        settings = dict(state.settings)
        shown, self._shown = self._shown, settings

        def changed(name: str) -> bool:
            return shown is None or shown.get(name) != settings.get(name)

        if changed("server") and settings.get("server"):
            edit = self.server_combo.lineEdit()
            if edit is not None and not (edit.hasFocus() and edit.isModified()):
                self.server_combo.setEditText(settings["server"])
        if changed("user"):
            sync_edit(self.user_edit, settings.get("user", ""))
        if changed("password"):
            sync_edit(self.password_edit, settings.get("password", ""))
        if changed("passive"):
            self.passive_box.setChecked(settings.get("passive", "true") != "false")

    def fields(self) -> dict[str, object]:
        """The form as settings (what Connect sends with its action); before the
        client's first state has filled the fields, only the server."""
        server: dict[str, object] = {"server": self.server_combo.address()}
        if self._shown is None:
            return server
        return {**server, "user": self.user_edit.text().strip(),
                "password": self.password_edit.text(),
                "passive": "true" if self.passive_box.isChecked() else "false"}

    def describe(self, info: NodeInfo) -> str:
        if self.busy:
            return super().describe(info)
        if not self.connected:
            return "not connected"
        settings = dict(self.state.settings) if self.state is not None else {}
        server = settings.get("server") or self.server_combo.address()
        return f"{settings.get('user', '')} at {server}"

    def _update_controls(self) -> None:
        connected = self.connected
        self.connect_button.setText("Disconnect" if connected else "Connect")
        self.connect_button.setToolTip("Log out (QUIT)" if connected else
                                       "Connect and log in (USER, PASS), then list the "
                                       "folder (LIST)")
        self.connect_button.setEnabled(connected or not self.busy)
        for widget in (self.server_combo, self.user_edit, self.password_edit,
                       self.passive_box):
            widget.setEnabled(not connected)
        entry = self.selected()
        idle = connected and not self.busy and not self.transferring
        self.up_button.setEnabled(idle and self.cwd != "/")
        self.refresh_button.setEnabled(idle)
        self.table.setEnabled(connected)
        self.download_button.setEnabled(idle and entry is not None and entry.kind == "file")
        self.upload_button.setEnabled(idle)
        self.rename_button.setEnabled(idle and entry is not None)
        self.delete_button.setEnabled(idle and entry is not None)
        self.mkdir_button.setEnabled(idle)
        self.path_label.setText(f"<b>{self.cwd}</b>" if connected else "")
        if not idle:
            self.prompt.dismiss()
        self.state_label.setText(self.describe(self.info))

    def _show_password(self, shown: bool) -> None:
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown
                                       else QLineEdit.EchoMode.Password)
        self.show_button.setText("Hide" if shown else "Show")

    def selected(self) -> Entry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    # ---- commands (the state that comes back shows what they did) --------------------

    async def _ok(self, verb: str, *args: str, **settings: object) -> bool:
        outcome = await self.act(verb, *args, **settings)
        return outcome is not None and outcome.ok

    def _connect_clicked(self) -> None:
        spawn(self.log_out() if self.connected else self.log_in())

    async def added(self) -> None:
        self.connect_button.setFocus()

    async def log_in(self) -> bool:
        """Log in with the form's server, user, password and mode; list the folder."""
        return await self._ok("connect", **self.fields())

    async def log_out(self) -> None:
        """QUIT; the listing empties."""
        await self._ok("close")

    async def refresh(self) -> bool:
        """List the current folder again."""
        return await self._ok("list")

    async def enter(self, name: str) -> bool:
        """Go into folder ``name`` (``..``: up) and list it."""
        return await self._ok("cd", name)

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
        """RETR ``name`` into ``folder``; where it went, or None if it did not."""
        if not await self._ok("retr", name, str(folder)):
            return None
        return Path(self.view.saved) if self.view.saved else folder / name

    async def upload(self, path: Path) -> bool:
        """STOR the local ``path`` into the current folder (listed again after)."""
        if not await self._ok("upload", str(path)):
            return False
        row = self.model.row_of(path.name)
        if row is not None:
            self.table.selectRow(row)
        return True

    async def cancel(self) -> None:
        """Stop the running transfer (it ends with an error: cancelled)."""
        await self.act("cancel")

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
        return await self._ok("rename", old, new)

    async def delete(self, entry: Entry) -> bool:
        return await self._ok("rmdir" if entry.kind == "dir" else "delete", entry.name)

    async def mkdir(self, name: str) -> bool:
        return await self._ok("mkdir", name) if name else False

    async def remove(self) -> None:
        if self.transferring:
            await self.cancel()
        await super().remove()
