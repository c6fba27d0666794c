"""The FTP server's data as its panel shows it (lab/servers/live.py): the folder it
serves, the lab user, the students' passwords to hand out (the ``students`` option)
and what it turned away (bounces, failed logins), as an FtpServerView."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the UI imports the views, not the servers' libraries
    from lab.servers.ftp import FtpBackend


@dataclass(frozen=True, slots=True)
class FtpServerView:
    root: str
    user: str
    password: str
    #: (user, password) of each student, in order (empty: the option is off).
    students: tuple[tuple[str, str], ...] = ()
    #: (reason, count) of what the server refused (lab/servers/guard.py: Refusals).
    refused: tuple[tuple[str, int], ...] = ()
    #: The largest upload (bytes) and the most the folder may hold (MiB).
    upload_limit: int = 0
    folder_mb: int = 0


def view(backend: FtpBackend) -> FtpServerView:
    return FtpServerView(str(backend.root), backend.user, backend.password,
                         tuple(backend.students.items()), backend.refusals.view(),
                         backend.upload_limit, backend.folder_mb)


def watch(backend: FtpBackend, changed: Callable[[], None]) -> Callable[[], None]:
    """Call ``changed`` after each refusal the server counts."""
    return backend.refusals.watch(changed)
