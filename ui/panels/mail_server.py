"""The SMTP and POP3 server panels: what the echo server panel has, plus the mail
folder they share (and may change) with every mailbox's messages, live from the
server's state, and the per-student passwords; the SMTP server's domain, AUTH switch
and caps, and the POP3 server's password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from lab.engine import EngineError
from lab.mail import MailView
from lab.model import NodeInfo
from lab.paths import data_dir
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import PanelContext, make_table
from ui.panels.echo_server import Facts, OptionsServerPanel, add_folder_row
from ui.panels.mail_box import MailboxModel, MessageWindow
from ui.panels.mail_common import short_path
from ui.panels.students import StudentsRow

DEFAULT_DOMAIN = "lab.test"
DEFAULT_PASSWORD = "lab"
DEFAULT_SMTP_USER = "student"  # lab/servers/smtp.py: DEFAULT_USER
#: lab/servers/mail_limits.py: the SMTP server's caps by default.
DEFAULT_CAPS = (("max_recipients", 20), ("max_new_mailboxes", 20), ("max_folder_mb", 100))
CAPS_TIP = (
    "What one client may do to the lab's mail, so a shared server stays usable "
    "(options max_recipients, max_new_mailboxes, max_folder_mb):\n"
    "• recipients in one message: beyond it RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.10; "
    "the client sends the rest in another message)\n"
    "• new mailboxes one client address may make: beyond it 452 4.3.1 (RFC 5321 §4.2.2, "
    "RFC 3463 §3.4)\n"
    "• the mail folder's size: a message that would overfill it gets 452 4.3.1 (try "
    "later), one that could never fit 552 5.3.4 (RFC 5321 §4.2.2, RFC 3463 §3.5)")


class MailServerPanel(OptionsServerPanel):
    """A server on the lab's mail folder: port, start/stop, the folder, and every
    mailbox's messages as the server's state lists them (double-click one to read it)."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self.message_window: MessageWindow | None = None
        super().__init__(info, context, parent)

    def finish_layout(self) -> None:
        self.folder_label, self.choose_button = add_folder_row(
            self, "One Maildir per mailbox (ann@lab.test → ann/); the SMTP "
                                     "and POP3 servers share it (cslab serve --root DIR)",
            "Keep mail in another folder (a running server "
                                      "restarts on the same port)", self._choose_clicked)
        self.add_rows()
        self.students = StudentsRow(self.students_what, self.students_open,
                                    self.set_options, self)
        self.body.addWidget(self.students)
        self._add_mailboxes()
        self._show_facts()
        super().finish_layout()

    #: What a student's password logs in to (the row's tooltip), and what it opens.
    students_what = "POP3 USER/PASS and APOP"
    students_open = "each opens only its own mailbox: student1 reads student1@lab.test"

    def add_rows(self) -> None:
        """Subclasses add their own rows here, above the mailboxes."""

    def _add_mailboxes(self) -> None:
        self.mailboxes_label = QLabel("Mailboxes, live:", self)
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
        self.body.addWidget(self.mailboxes_label)
        self.body.addWidget(self.table)

    def facts_of(self, view: Any) -> Facts:
        if not isinstance(view, MailView):
            return {}
        return {"root": view.root, "domain": view.domain, "password": view.password}

    def show_view(self, view: Any) -> None:
        super().show_view(view)
        live = isinstance(view, MailView)
        self.model.set_rows(list(view.messages) if live else [])
        if live:
            self.students.show_students(view.students)
        self.mailboxes_label.setText("Mailboxes, live:" if live
                                     else "Mailboxes: shown while the server runs")

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

    def _open_message(self, index: QModelIndex) -> None:
        if self.model.summary(index.row()) is not None:
            spawn(self.open_message(index.row()))

    async def open_message(self, row: int) -> bool:
        """Show the message in ``row`` in a small window (it stays open)."""
        summary = self.model.summary(row)
        if summary is None:
            return False
        try:
            outcome = await self.context.commands.server_do(self.node_id, "read",
                                                            summary.mailbox, summary.key)
        except EngineError as exc:
            outcome = None
            self.show_error(str(exc))
        if outcome is None or not outcome.ok:
            if outcome is not None:
                self.show_error(outcome.shown)
            return False
        if self.message_window is None:
            self.message_window = MessageWindow(self)
        self.message_window.show_mail(summary, outcome.values["raw"])
        return True

    async def remove(self) -> None:
        if self.message_window is not None:
            self.message_window.close()
        await super().remove()


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
        self.apply_button.setEnabled(False)  # before the new state shows the password
        if not await self.set_options(password=password):
            self.apply_button.setEnabled(True)
            return False
        self.facts["password"] = password
        return True


class SmtpServerPanel(MailServerPanel):
    """The SMTP server: the domain it takes mail for, whether it requires AUTH, and
    the mailboxes."""

    students_what = "SMTP AUTH"
    students_open = "each logs in with its own user name to send mail"

    def add_rows(self) -> None:
        self.domain_label = QLabel(self)
        self.domain_label.setWordWrap(True)
        self.body.addWidget(self.domain_label)
        self.caps_label = QLabel(self)
        self.caps_label.setWordWrap(True)
        self.caps_label.setToolTip(CAPS_TIP)
        theme.set_tone(self.caps_label, "faint")
        self.body.addWidget(self.caps_label)
        self.show_caps(DEFAULT_CAPS)
        self.auth_check = QCheckBox("Require AUTH", self)
        self.auth_check.setToolTip("Require AUTH (PLAIN or LOGIN) before MAIL: offer AUTH in "
                                   "the EHLO reply and refuse MAIL (530) until "
                                   "the client logs in (a running server restarts on the "
                                   "same port; open sessions end). cslab serve smtp --auth")
        self.auth_check.clicked.connect(self._auth_clicked)
        self.body.addWidget(self.auth_check)
        self.auth_hint = QLabel(self)
        self.auth_hint.setWordWrap(True)
        theme.set_tone(self.auth_hint, "faint")
        self.body.addWidget(self.auth_hint)
        self._applying = False

    def show_caps(self, caps: tuple[tuple[str, int], ...]) -> None:
        values = dict(caps)
        self.caps_label.setText(
            f"Caps: {values.get('max_recipients', 0):,} recipients a message · "
            f"{values.get('max_new_mailboxes', 0):,} new mailboxes per client address · "
            f"{values.get('max_folder_mb', 0):,} MiB of mail in the folder")

    def show_view(self, view: Any) -> None:
        super().show_view(view)
        if isinstance(view, MailView) and view.caps:
            self.show_caps(view.caps)
        if isinstance(view, MailView) and view.auth is not None and not self._applying:
            self.facts["auth"] = "on" if view.auth else "off"
            self._show_facts()

    def _show_facts(self) -> None:
        super()._show_facts()
        domain = self.facts.get("domain", DEFAULT_DOMAIN)
        self.domain_label.setText(f"Takes mail for <b>@{domain}</b> (no relaying).")
        on = self.facts.get("auth") == "on"
        if not self._applying:
            self.auth_check.setChecked(on)
        password = self.facts.get("password") or DEFAULT_PASSWORD
        # Student passwords are for AUTH: without it anyone sends mail anyway.
        self.students.setEnabled(on or bool(self.students.spin.value()))
        self.students.setToolTip("" if on else "Turn on Require AUTH first: without it "
                                 "anyone may send mail, no password needed")
        self.auth_hint.setText(
            f"Log in as {DEFAULT_SMTP_USER} with the password {password}. There is no "
            "TLS here: AUTH PLAIN and LOGIN only base64 the name and password, so they "
            "cross the Wire in the clear and the capture shows them." if on else
            "Anyone may send mail for the lab's domain without logging in.")

    def _auth_clicked(self, checked: bool) -> None:
        spawn(self.set_auth(checked))

    async def set_auth(self, on: bool) -> bool:
        """Require AUTH (or not) from now on; the checkbox shows what the server took."""
        self._applying = True
        self.auth_check.setEnabled(False)
        try:
            applied = await self.set_options(auth="on" if on else "off")
        finally:
            self._applying = False
            self.auth_check.setEnabled(True)
        if applied:
            self.facts["auth"] = "on" if on else "off"
        self._show_facts()
        return applied
