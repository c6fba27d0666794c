"""The SMTP and POP3 server panels: what the echo server panel has, plus the mail
folder they share (and may change), the SMTP server's live mailbox view, and the
POP3 server's password."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from lab.engine import Engine, EngineError
from lab.mail import MailEvent
from lab.model import NodeInfo
from lab.paths import data_dir
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import PanelContext, make_table
from ui.panels.echo_server import Facts, OptionsServerPanel, add_folder_row
from ui.panels.mail_box import MailboxModel, MessageWindow, read_mail, watch_mail
from ui.panels.mail_common import short_path
from ui.panels.watching import WatchesBackend

DEFAULT_DOMAIN = "lab.test"
DEFAULT_PASSWORD = "lab"


async def server_facts(engine: Engine, node_id: str) -> Facts:
    """Runs on the engine's loop: the running server's mail folder, domain and password."""
    backend = engine.server_backend(node_id)
    store = getattr(backend, "store", None)
    facts = {"root": str(getattr(store, "root", "")),
             "domain": str(getattr(backend, "domain", "")),
             "password": str(getattr(backend, "password", ""))}
    return {k: v for k, v in facts.items() if v}


class MailServerPanel(OptionsServerPanel):
    """A server on the lab's mail folder: port, start/stop, and the folder."""

    facts_on_engine = staticmethod(server_facts)

    def finish_layout(self) -> None:
        self.folder_label, self.choose_button = add_folder_row(
            self, "One Maildir per mailbox (ann@lab.test → ann/); the SMTP "
                                     "and POP3 servers share it (cslab serve --root DIR)",
            "Keep mail in another folder (a running server "
                                      "restarts on the same port)", self._choose_clicked)
        self.add_rows()
        self._show_facts()
        super().finish_layout()

    def add_rows(self) -> None:
        """Subclasses add their own rows here, above the error line."""

    def _show_facts(self) -> None:
        root = self.facts.get("root") or str(data_dir(create=False) / "mail")
        self.folder_label.setText(f"Mail folder: {short_path(root)}")

    def _choose_clicked(self) -> None:
        start = self.facts.get("root") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Mail folder", start)
        if folder:
            spawn(self.use_folder(folder))

    async def use_folder(self, folder: str) -> None:
        """Keep mail in ``folder`` from now on."""
        if await self.set_options(root=folder):
            self.facts["root"] = folder
            self._show_facts()


class Pop3ServerPanel(MailServerPanel):
    """The POP3 server: its password is shown and may be changed here."""

    def add_rows(self) -> None:
        self.password_edit = QLineEdit(DEFAULT_PASSWORD, self)
        self.password_edit.setToolTip("Every mailbox's password (PASS); the user name is the "
                                      "mailbox: ann for ann@lab.test")
        self.password_edit.returnPressed.connect(self._apply_clicked)
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setToolTip("Use this password (a running server restarts on the "
                                     "same port; open sessions end)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._apply_clicked)
        self.password_edit.textEdited.connect(lambda _: self.apply_button.setEnabled(True))
        row = QHBoxLayout()
        row.addWidget(QLabel("Password", self))
        row.addWidget(self.password_edit, 1)
        row.addWidget(self.apply_button)
        self.body.addLayout(row)
        hint = QLabel("Log in as the mailbox name: ann for ann@lab.test.", self)
        theme.set_tone(hint, "faint")
        hint.setWordWrap(True)
        self.body.addWidget(hint)

    def _show_facts(self) -> None:
        super()._show_facts()
        password = self.facts.get("password")
        if password and not self.apply_button.isEnabled():
            self.password_edit.setText(password)

    def _apply_clicked(self) -> None:
        spawn(self.set_password(self.password_edit.text()))

    async def set_password(self, password: str) -> bool:
        if not password:
            self.show_error("The password cannot be empty.")
            return False
        if not await self.set_options(password=password):
            return False
        self.facts["password"] = password
        self.apply_button.setEnabled(False)
        return True


class SmtpServerPanel(WatchesBackend, MailServerPanel):
    """The SMTP server, with every mailbox's messages live.

    Signals:
        mail_event(object): a MailEvent, emitted on the engine thread; queued to
            this panel's (Qt) thread, where the table is updated.
    """

    mail_event = Signal(object)

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self._init_watch()
        self._early: list[object] | None = None
        self.message_window: MessageWindow | None = None
        super().__init__(info, context, parent)
        self.mail_event.connect(self._apply_event, Qt.ConnectionType.QueuedConnection)

    def add_rows(self) -> None:
        self.domain_label = QLabel(self)
        self.domain_label.setWordWrap(True)
        self.model = MailboxModel(self)
        self.table = make_table(self, self.model)
        self.table.setToolTip("Every mailbox, live: a delivery or a POP3 deletion shows at "
                              "once. Double-click a message to read it.")
        # the servers column is narrow: share its width out rather than scroll sideways
        header = self.table.horizontalHeader()
        fit, share = QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Stretch
        for column, mode in enumerate((fit, share, share, share)):
            header.setSectionResizeMode(column, mode)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(4, self.table.fontMetrics().horizontalAdvance("00:00:00") + 12)
        header.setMinimumSectionSize(36)
        self.table.setMinimumHeight(110)
        self.table.setMaximumHeight(200)
        self.table.doubleClicked.connect(self._open_message)
        self.body.addWidget(self.domain_label)
        self.body.addWidget(self.table)

    def _show_facts(self) -> None:
        super()._show_facts()
        domain = self.facts.get("domain", DEFAULT_DOMAIN)
        self.domain_label.setText(f"Takes mail for <b>@{domain}</b> (no relaying). "
                                  f"Mailboxes, live:")

    def show_node(self, info: NodeInfo) -> None:
        super().show_node(info)
        self._follow_state()

    async def _watch(self) -> None:
        lab = self.context.lab
        self._early = []
        watched = await lab.call(watch_mail, lab.engine, self.node_id, self.mail_event.emit)
        early, self._early = self._early, None
        if watched is None:
            return
        rows, self._stop_watch = watched
        self.model.set_rows(rows)
        for event in early:  # delivered after the listing, handed over before it
            self._apply_event(event)

    def _apply_event(self, event: object) -> None:
        if self._early is not None:
            self._early.append(event)
            return
        if self._stop_watch is not None and isinstance(event, MailEvent):
            self.model.apply(event)

    def _open_message(self, index: QModelIndex) -> None:
        summary = self.model.summary(index.row())
        if summary is not None:
            spawn(self.open_message(index.row()))

    async def open_message(self, row: int) -> bool:
        """Show the message in ``row`` in a small window (it stays open)."""
        summary = self.model.summary(row)
        if summary is None:
            return False
        lab = self.context.lab
        try:
            raw = await lab.call(read_mail, lab.engine, self.node_id, summary.mailbox,
                                 summary.key)
        except (KeyError, OSError, EngineError):
            self.show_error(f"That message is gone from mailbox {summary.mailbox}.")
            return False
        if self.message_window is None:
            self.message_window = MessageWindow(self)
        self.message_window.show_mail(summary, raw)
        return True

    async def use_folder(self, folder: str) -> None:
        async with self._watch_lock:
            await self._unwatch()
            await super().use_folder(folder)
            self.model.set_rows([])
        await self.sync_watch()

    async def stop(self) -> None:
        async with self._watch_lock:
            await self._unwatch()
        await super().stop()

    async def remove(self) -> None:
        async with self._watch_lock:
            await self._unwatch()
        if self.message_window is not None:
            self.message_window.close()
        await super().remove()
