"""The FTP server panel: what the echo server panel has, plus the served folder (which
may change) and its users: anonymous (read-only), the lab user, whose name and
password may change, and, for a class, a password per student (listed to hand out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
)

from lab.paths import data_dir
from lab.servers.ftp_live import FtpServerView
from ui import theme
from ui.engine_thread import spawn
from ui.panels.echo_server import Facts, OptionsServerPanel, add_folder_row
from ui.panels.mail_common import short_path
from ui.panels.students import StudentsRow

DEFAULT_USER = "student"
DEFAULT_PASSWORD = "lab"


class FtpServerPanel(OptionsServerPanel):
    """An FTP server: port, start/stop, the served folder and the users."""

    def facts_of(self, view: Any) -> Facts:
        if not isinstance(view, FtpServerView):
            return {}
        return {"root": view.root, "user": view.user, "password": view.password,
                "caps": (f" (uploads up to {view.upload_limit // 2**20} MiB each, "
                         f"{view.folder_mb} MiB in all)") if view.folder_mb else ""}

    def finish_layout(self) -> None:
        self.folder_label, self.choose_button = add_folder_row(
            self, "Clients see this folder as / and cannot leave it "
                                     "(cslab serve ftp --root DIR)",
            "Serve another folder (a running server restarts on "
                                      "the same port)", self._choose_clicked)
        self._add_users()
        self._add_students()
        self._show_facts()
        super().finish_layout()

    def _add_users(self) -> None:
        anonymous = QLabel("anonymous (read-only): any password; list and download", self)
        theme.set_tone(anonymous, "faint")
        anonymous.setWordWrap(True)
        self.user_edit = QLineEdit(DEFAULT_USER, self)
        self.user_edit.setToolTip("The lab user's name (USER); it may read and write")
        self.password_edit = QLineEdit(DEFAULT_PASSWORD, self)
        self.password_edit.setToolTip("The lab user's password (PASS; it crosses the wire "
                                      "in clear text)")
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setToolTip("Use this user name and password (a running server "
                                     "restarts on the same port; open sessions end)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._apply_clicked)
        for edit in (self.user_edit, self.password_edit):
            edit.textEdited.connect(lambda _: self.apply_button.setEnabled(True))
            edit.returnPressed.connect(self._apply_clicked)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Users", self), 0, 0)
        grid.addWidget(anonymous, 0, 1, 1, 3)
        grid.addWidget(QLabel("Lab user", self), 1, 0)
        grid.addWidget(self.user_edit, 1, 1)
        grid.addWidget(self.password_edit, 1, 2)
        grid.addWidget(self.apply_button, 1, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        self.body.addLayout(grid)

    def _add_students(self) -> None:
        self.students = StudentsRow(
            "FTP USER/PASS", "each logs in as its own user, with the lab user's rights",
            self.set_options, self)
        self.body.addWidget(self.students)

    def show_view(self, view: Any) -> None:
        super().show_view(view)
        if isinstance(view, FtpServerView):
            self.show_students(view.students)

    def show_students(self, students: tuple[tuple[str, str], ...]) -> None:
        """The students' users and passwords to hand out (hidden while off)."""
        self.students.show_students(students)

    def _show_facts(self) -> None:
        root = self.facts.get("root") or str(data_dir(create=False) / "ftp")
        self.folder_label.setText(f"Serves: {short_path(root)}{self.facts.get('caps', '')}")
        if not self.apply_button.isEnabled():
            self.user_edit.setText(self.facts.get("user", self.user_edit.text()))
            self.password_edit.setText(self.facts.get("password", self.password_edit.text()))

    def _choose_clicked(self) -> None:
        start = self.facts.get("root") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder to serve", start)
        if folder:
            spawn(self.use_folder(folder))

    async def use_folder(self, folder: str) -> bool:
        """Serve ``folder`` from now on."""
        if not await self.set_options(root=folder):
            return False
        self.facts["root"] = folder
        self._show_facts()
        return True

    def _apply_clicked(self) -> None:
        spawn(self.set_user(self.user_edit.text().strip(), self.password_edit.text()))

    async def set_user(self, user: str, password: str) -> bool:
        """Make ``user``/``password`` the lab user (not anonymous, never empty)."""
        if not user or not password:
            self.show_error("The user name and the password cannot be empty.")
            return False
        if user.lower() in ("anonymous", "ftp"):
            self.show_error(f"{user!r} is the anonymous user: choose another name.")
            return False
        self.apply_button.setEnabled(False)
        if not await self.set_options(user=user, password=password):
            self.apply_button.setEnabled(True)
            return False
        self.facts.update(user=user, password=password)
        self._show_facts()
        return True
