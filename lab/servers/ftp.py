"""The FTP server: aioftp serving one folder, anonymous read-only plus one lab user.

aioftp's ``Server`` listens on 127.0.0.1 at a port the system picks; the user reaches
it through its Wire. Our subclass adds what aioftp lacks (PORT, EPRT: see
:mod:`lab.servers.ftp_active`; NLST, SIZE, MDTM, FEAT, NOOP, OPTS; MODE, STRU, HELP,
STAT: see :mod:`lab.servers.ftp_commands`) and does every
transfer itself (LIST, NLST, MLSD, RETR with REST, STOR, APPE: see
:mod:`lab.servers.ftp_transfer`) so that each ends with a clear reply: 226, 426 when
the data connection vanishes, 552 over the upload cap. Passive replies name 127.0.0.1,
the backend's own address (the Wire's FTP helper is the one to rewrite them).
Options (all optional):

    root          the served folder (default: a copy of resources/ftp/ in the data dir)
    user          the lab user, read/write (default ``student``)
    password      the lab user's password (default ``lab``)
    upload_limit  the largest upload in bytes (default 50 MiB; 552 beyond)
    max_folder_mb the most the served folder may hold, in MiB (default 200): an upload
                  that would grow it past that is refused, 552
    students      0 (default) or N: users student1..N with passwords of their own, and
                  the lab user's password from this machine only (lab/servers/ftp_login.py)

It never leaves its root: a path with ``..`` that climbs above ``/``, a NUL byte, or
one that resolves (symlinks followed) outside the root is refused with 550.
``anonymous`` (or ``ftp``), with any password, may list and download only. Failed
logins are slowed and cut off (lab/servers/ftp_login.py); an active-mode data address
that is not the client's own is refused (lab/servers/ftp_active.py): both are counted
in the backend's ``refusals`` for its panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from aioftp import Server
from aioftp.common import Connection

from lab.paths import data_dir, resources_dir
from lab.servers import Backend, quiet_client_faults
from lab.servers.ftp_active import forget_data, open_active
from lab.servers.ftp_commands import MoreCommands
from lab.servers.ftp_login import LabUsers, log_in
from lab.servers.ftp_transfer import BLOCK, Transfers, mtime_text
from lab.servers.guard import LoginGuard, Refusals
from lab.servers.students import student_passwords, students_option

DEFAULT_USER = "student"
DEFAULT_PASSWORD = "lab"
DEFAULT_UPLOAD_LIMIT = 50 * 1024 * 1024
#: The most the served folder may hold (MiB): uploads stop there (552).
DEFAULT_FOLDER_MB = 200
#: The command a line too long to read becomes (no client can send a NUL-led name).
TOO_LONG = "\x00too-long"
# A client that leaves mid-command is no error worth a traceback on stderr.
quiet_client_faults("aioftp.server")
WRITES = ("stor", "appe", "dele", "mkd", "rmd", "rnfr", "rnto")
Command = Callable[[Connection, str], Awaitable[bool]]


class LabFtpServer(MoreCommands, Transfers, Server):
    """aioftp's Server, sandboxed, with active mode and the commands it lacks."""

    def __init__(self, root: Path, users: LabUsers, upload_limit: int,
                 refusals: Refusals | None = None,
                 folder_limit: int = DEFAULT_FOLDER_MB * 2**20) -> None:
        super().__init__(users, wait_future_timeout=5, block_size=BLOCK,
                         welcome_message="Client-Server Lab FTP server ready: log in as "
                         "anonymous (download only) or as the lab user")
        self.root = root
        self.lab_users = users
        self.upload_limit = upload_limit
        self.folder_limit = folder_limit
        #: What it turned away (bounces, failed logins), for its panel.
        self.refusals = refusals if refusals is not None else Refusals()
        self.guard = LoginGuard(self.refusals)
        #: Sessions answered TOO_LONG: they end, and read no command meanwhile.
        self._ending: weakref.WeakSet[Any] = weakref.WeakSet()
        for name in ("cwd", "mkd", "rmd", "dele", "rnfr", "rnto", "mlst"):
            self.commands_mapping[name] = self._guarded(name, self.commands_mapping[name])
        mine: dict[str, Command] = {
            "port": self.port, "eprt": self.eprt, "nlst": self.nlst, "size": self.size,
            "mdtm": self.mdtm, "feat": self.feat, "noop": self.noop, "opts": self.opts,
            "pasv": self.pasv_, "pass": self.pass__,
            "mkd": self._guarded("mkd", self.mkd_), "epsv": self.epsv_,
            "list": self.list_, "mlsd": self.mlsd_, "retr": self.retr_,
            "stor": self.stor_, "appe": self.appe_,
        }
        mine.update(self.more_commands())
        self.commands_mapping.update({name: self._safe(f) for name, f in mine.items()})
        self.commands_mapping[TOO_LONG] = self._too_long

    async def response_writer(self, stream: Any, response_queue: asyncio.Queue[Any]) -> None:
        """aioftp's; once the client is gone the replies left are dropped, quietly: the
        reading side ends the session. (Two tasks failing at once left aioftp's
        dispatcher one exception it never retrieved: a traceback on stderr per reset.)"""
        try:
            await super().response_writer(stream, response_queue)
        except ConnectionError:
            while True:
                await response_queue.get()
                response_queue.task_done()

    async def parse_command(self, stream: Any,
                            censor_commands: tuple[str] = ("pass",)) -> tuple[str, str]:
        """aioftp's, but a command that is not UTF-8 reads with replacement characters
        (and is answered as unknown) instead of ending the session without a reply, and
        a line too long for the reader is answered 500 before the session ends."""
        if stream in self._ending:  # the rest of a line too long must not run as a command
            await asyncio.get_running_loop().create_future()  # until the session ends
        try:
            line = await stream.readline()
        except ValueError:  # longer than the reader's limit (64 KiB): answered, then closed
            self._ending.add(stream)
            return TOO_LONG, ""
        if not line:  # the client closed: the session ends (the dispatcher may be ending
            task = asyncio.current_task()  # already after QUIT: nobody reads it then)
            if task is not None:
                task.add_done_callback(lambda done: done.cancelled() or done.exception())
            raise ConnectionResetError
        cmd, _, rest = line.decode(self.encoding, errors="replace").rstrip().partition(" ")
        return cmd.lower(), rest

    async def _too_long(self, connection: Connection, rest: str) -> bool:
        connection.response("500", "command line too long: closing the connection")
        return False

    async def dispatcher(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """aioftp's session loop; ending quietly when ``close()`` cancels it (asyncio's
        stream callback would otherwise log the cancelled task as an error)."""
        with contextlib.suppress(asyncio.CancelledError):
            await super().dispatcher(reader, writer)

    # ---- checks ----------------------------------------------------------------------

    def _logged(self, connection: Connection) -> bool:
        if connection.future.logged.done():
            return True
        connection.response("530", "log in first with USER and PASS")
        return False

    def refusal(self, connection: Connection, command: str, rest: str) -> str | None:
        """Why ``command rest`` is refused (None: go ahead)."""
        if command in WRITES and connection.user is self.lab_users.anonymous:
            return (f"{command.upper()} refused: anonymous users may only list and "
                    "download; log in as the lab user to upload or change files")
        if "\x00" in rest:
            return "refused: a path with a NUL byte"
        virtual = PurePosixPath(rest)
        if not virtual.is_absolute():
            virtual = connection.current_directory / virtual
        depth = 0
        for part in virtual.parts[1:]:
            depth += -1 if part == ".." else 1
            if depth < 0:
                return f"refused: {rest!r} would climb out of the served folder"
        real, _ = self.get_paths(connection, rest)
        try:
            inside = real.resolve().is_relative_to(self.root)
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            return f"refused: {rest!r} leads outside the served folder (a link out of it)"
        return None

    def _guarded(self, name: str, command: Command) -> Command:
        async def guarded(connection: Connection, rest: str) -> bool:
            if connection.future.logged.done():
                why = self.refusal(connection, name, rest)
                if why is not None:
                    connection.response("550", why)
                    return True
            return await command(connection, rest)

        return guarded

    def _safe(self, command: Command) -> Command:
        """``command``, answering 550 for a file system error instead of dropping the
        session (aioftp's dispatcher ends a session on an unexpected exception)."""

        async def safe(connection: Connection, rest: str) -> bool:
            try:
                return await command(connection, rest)
            except OSError as exc:
                connection.response("550", f"file system error: {exc.strerror or exc}")
                return True

        return safe

    def _path(self, connection: Connection, command: str, rest: str) -> Path | None:
        """The real path for ``rest`` if logged in and allowed; else replied and None."""
        if not self._logged(connection):
            return None
        why = self.refusal(connection, command, rest)
        if why is not None:
            connection.response("550", why)
            return None
        return self.get_paths(connection, rest)[0]

    # ---- small commands --------------------------------------------------------------

    async def feat(self, connection: Connection, rest: str) -> bool:
        connection.response("211", ["Features:", "EPRT", "EPSV", "MDTM", "MLST "
                                    "Type*;Size*;Modify*;", "PASV", "REST STREAM", "SIZE",
                                    "UTF8", "End"], True)
        return True

    async def noop(self, connection: Connection, rest: str) -> bool:
        connection.response("200", "still here")
        return True

    async def opts(self, connection: Connection, rest: str) -> bool:
        if rest.upper().startswith("UTF8"):
            connection.response("200", "names are always UTF-8 here")
        else:
            connection.response("501", f"no options for {rest!r}")
        return True

    async def size(self, connection: Connection, rest: str) -> bool:
        path = self._path(connection, "size", rest)
        if path is not None:
            if path.is_file():
                connection.response("213", str(path.stat().st_size))
            else:
                connection.response("550", f"SIZE: {rest!r} is not a file here")
        return True

    async def mdtm(self, connection: Connection, rest: str) -> bool:
        path = self._path(connection, "mdtm", rest)
        if path is not None:
            if path.is_file():
                connection.response("213", mtime_text(path.stat().st_mtime))
            else:
                connection.response("550", f"MDTM: {rest!r} is not a file here")
        return True

    async def mkd_(self, connection: Connection, rest: str) -> bool:
        path = self._path(connection, "mkd", rest)
        if path is not None:
            if path.exists():
                connection.response("550", f"MKD: {rest!r} already exists")
            else:
                path.mkdir(parents=True)
                virtual = self.get_paths(connection, rest)[1]
                connection.response("257", f'"{virtual}" created')
        return True

    async def pasv_(self, connection: Connection, rest: str) -> bool:
        if connection.future.logged.done():
            forget_data(connection)
        return await self.pasv(connection, rest)

    async def epsv_(self, connection: Connection, rest: str) -> bool:
        if connection.future.logged.done():
            forget_data(connection)
        if rest.strip().upper() == "ALL":
            connection.response("200", "EPSV ALL: fine, only EPSV from now on")
            return True
        return await self.epsv(connection, "" if rest.strip() in ("1", "2") else rest)

    async def pass__(self, connection: Connection, rest: str) -> bool:
        return await log_in(self.lab_users, self.guard, connection, rest)

    async def port(self, connection: Connection, rest: str) -> bool:
        if self._logged(connection):
            await open_active(connection, "PORT", rest, self.refusals.count)
        return True

    async def eprt(self, connection: Connection, rest: str) -> bool:
        if self._logged(connection):
            await open_active(connection, "EPRT", rest, self.refusals.count)
        return True


class FtpBackend:
    """A running FTP server at ``address``, serving ``root``."""

    def __init__(self, root: Path, *, user: str = DEFAULT_USER,
                 password: str = DEFAULT_PASSWORD,
                 upload_limit: int = DEFAULT_UPLOAD_LIMIT, students: int = 0,
                 folder_mb: int = DEFAULT_FOLDER_MB) -> None:
        self.root = root
        self.user = user
        self.password = password
        self.upload_limit = upload_limit
        self.folder_mb = folder_mb
        #: The students' users and passwords (the ``students`` option), to hand out.
        self.students = student_passwords(students, "ftp")
        self.refusals = Refusals()
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._server: LabFtpServer | None = None

    async def start(self) -> None:
        users = LabUsers(self.root, self.user, self.password, self.students)
        server = LabFtpServer(self.root, users, self.upload_limit, self.refusals,
                              self.folder_mb * 2**20)
        await server.start("127.0.0.1", 0)
        self._server = server
        self.address = ("127.0.0.1", server.server_port)

    async def close(self) -> None:
        """Stop listening and end every session (its data connections and transfers)."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.close(), 5.0)


def root_option(options: dict[str, str]) -> Path:
    if options.get("root"):
        root = Path(options["root"]).expanduser()
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = data_dir() / "ftp"
        if not root.exists():
            shutil.copytree(resources_dir() / "ftp", root)
    if not root.is_dir():
        raise NotADirectoryError(f"the FTP folder {root} is not a folder")
    return root.resolve()


def limit_option(text: str | None) -> int:
    if not text:
        return DEFAULT_UPLOAD_LIMIT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"upload_limit must be a whole number of bytes above 0, not {text!r}")
    return value


def folder_option(text: str | None) -> int:
    """``max_folder_mb``: a whole number of MiB above 0 (DEFAULT_FOLDER_MB if not given)."""
    if not text:
        return DEFAULT_FOLDER_MB
    if not text.strip().isdigit() or int(text) <= 0:
        raise ValueError(f"max_folder_mb must be a whole number of MiB above 0, not {text!r}")
    return int(text)


async def start_ftp(options: dict[str, str]) -> Backend:
    backend = FtpBackend(root_option(options), user=options.get("user") or DEFAULT_USER,
                         password=options.get("password") or DEFAULT_PASSWORD,
                         upload_limit=limit_option(options.get("upload_limit")),
                         folder_mb=folder_option(options.get("max_folder_mb")),
                         students=students_option(options.get("students")))
    await backend.start()
    return backend
