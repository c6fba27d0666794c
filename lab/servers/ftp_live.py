"""The FTP server's data as its panel shows it (lab/servers/live.py): the folder it
serves and the lab user, as an FtpServerView (they change only with the options)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the UI imports the views, not the servers' libraries
    from lab.servers.ftp import FtpBackend


@dataclass(frozen=True, slots=True)
class FtpServerView:
    root: str
    user: str
    password: str


def view(backend: FtpBackend) -> FtpServerView:
    return FtpServerView(str(backend.root), backend.user, backend.password)
