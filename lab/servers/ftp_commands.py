"""Small commands of the lab's FTP server that aioftp lacks or answers badly.

RFC 959 5.1 requires ``MODE S`` and ``STRU F`` of every server (others get 504); HELP
lists the commands (214); STAT gives the session's status (211) or, with a path, a
listing (212 for a folder, 213 for a file). Every reply has a text: aioftp answers some
with an empty one (``200 ``, ``250 ``), which is given RFC 959's wording here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aioftp.common import Connection

from lab.servers.ftp_transfer import ABORTED

#: The commands HELP lists, with a line each for ``HELP <command>``.
COMMANDS = {
    "ABOR": "ABOR: abort the transfer that is running",
    "APPE": "APPE <file>: upload, adding to the end of the file",
    "CDUP": "CDUP: go up one folder",
    "CWD": "CWD <folder>: change the working folder",
    "DELE": "DELE <file>: delete a file",
    "EPRT": "EPRT |1|<address>|<port>|: active mode; the server connects to you",
    "EPSV": "EPSV: extended passive mode; you connect to the port it names",
    "FEAT": "FEAT: list the extensions this server has",
    "HELP": "HELP [<command>]: this help",
    "LIST": "LIST [<path>]: a long listing, on a data connection",
    "MDTM": "MDTM <file>: a file's modification time",
    "MKD": "MKD <folder>: make a folder",
    "MLSD": "MLSD [<folder>]: a machine-readable listing, on a data connection",
    "MLST": "MLST <path>: one path's facts, on the control connection",
    "MODE": "MODE S: stream mode (the only one here)",
    "NLST": "NLST [<folder>]: the names only, on a data connection",
    "NOOP": "NOOP: do nothing (keeps the connection alive)",
    "OPTS": "OPTS UTF8 ON: names are UTF-8 (always, here)",
    "PASS": "PASS <password>: the password, after USER",
    "PASV": "PASV: passive mode; you connect to the address it names",
    "PORT": "PORT h1,h2,h3,h4,p1,p2: active mode; the server connects to you",
    "PWD": "PWD: print the working folder",
    "QUIT": "QUIT: log out and close the connection",
    "REST": "REST <offset>: the next RETR or STOR starts at this byte",
    "RETR": "RETR <file>: download a file",
    "RMD": "RMD <folder>: remove an empty folder",
    "RNFR": "RNFR <path>: rename from (then RNTO)",
    "RNTO": "RNTO <path>: rename to (after RNFR)",
    "SIZE": "SIZE <file>: a file's size in bytes",
    "STAT": "STAT [<path>]: this session's status, or a listing over the control connection",
    "STOR": "STOR <file>: upload a file",
    "STRU": "STRU F: file structure (the only one here)",
    "SYST": "SYST: the system type",
    "TYPE": "TYPE I or TYPE A: binary or ASCII transfers",
    "USER": "USER <name>: log in (then PASS)",
}
#: RFC 959's words for a reply whose text would be empty.
DEFAULT_TEXTS = {
    "200": "command okay", "250": "requested file action okay, completed",
    "257": "done", "226": "closing data connection", "502": "command not implemented",
}
_TYPES = {"I": "binary (image)", "A": "ASCII", "L 8": "binary (local byte size 8)"}


class MoreCommands:
    """MODE, STRU, HELP, STAT, TYPE and ABOR, mixed into the server class."""

    if TYPE_CHECKING:  # the server class and Transfers provide them
        def _path(self, connection: Connection, command: str, rest: str) -> Path | None: ...

        def _list_line(self, path: Path) -> str: ...

    def more_commands(self) -> dict[str, Any]:
        return {"mode": self.mode, "stru": self.stru, "help": self.help, "stat": self.stat,
                "type": self.type_, "abor": self.abor_}

    async def write_response(self, stream: Any, code: str, lines: Any = "",
                             list: bool = False) -> None:  # noqa: A002 (aioftp's name)
        """aioftp's, with RFC 959's words for a reply it would send with no text."""
        if isinstance(lines, str) and not lines.strip():
            lines = DEFAULT_TEXTS.get(code, "done")
        await super().write_response(stream, code, lines, list)  # type: ignore[misc]

    async def mode(self, connection: Connection, rest: str) -> bool:
        _only_one(connection, "MODE", rest, "S", "stream", ("B", "C"),
                  "MODE S: stream mode (the only mode here)")
        return True

    async def stru(self, connection: Connection, rest: str) -> bool:
        _only_one(connection, "STRU", rest, "F", "file", ("R", "P"),
                  "STRU F: file structure (the only one here)")
        return True

    async def help(self, connection: Connection, rest: str) -> bool:
        verb = rest.strip().upper()
        if verb in COMMANDS:
            connection.response("214", COMMANDS[verb])
        elif verb:
            connection.response("502", f"HELP: {verb} is not a command this server knows")
        else:
            names = sorted(COMMANDS)
            rows = [" ".join(f"{n:<5}" for n in names[i:i + 9]).rstrip()
                    for i in range(0, len(names), 9)]
            connection.response("214", ["The commands this server knows:", *rows,
                                        "HELP <command> tells more about one"], True)
        return True

    async def stat(self, connection: Connection, rest: str) -> bool:
        if rest.strip():
            return self._stat_path(connection, rest.strip())
        logged = connection.future.logged.done()
        who = f"logged in as {connection.user.login}" if logged else "not logged in"
        kind = _TYPES.get(getattr(connection, "transfer_type", "I"), "binary (image)")
        busy = any(not worker.done() for worker in connection.extra_workers)
        data = "a transfer is running" if busy else "no transfer running"
        connection.response("211", [
            "Client-Server Lab FTP server status:",
            f"connected from {connection.client_host}:{connection.client_port}", who,
            f"TYPE {kind}, MODE S (stream), STRU F (file)", data, "end of status"], True)
        return True

    def _stat_path(self, connection: Connection, rest: str) -> bool:
        path = self._path(connection, "stat", rest)
        if path is None:
            return True
        if not path.exists() and not path.is_symlink():
            connection.response("550", f"STAT: no such file or folder: {rest!r}")
            return True
        folder = path.is_dir()
        entries = sorted(path.iterdir()) if folder else [path]
        lines = [self._list_line(entry) for entry in entries]
        connection.response("212" if folder else "213",
                            [f"status of {rest}:", *lines, "end of status"], True)
        return True

    async def type_(self, connection: Connection, rest: str) -> bool:
        kind = " ".join(rest.upper().split())
        if kind == "L 8":
            kind = "I"
        if kind in ("I", "A"):
            connection.transfer_type = kind
            connection.response("200", f"TYPE {kind}: {_TYPES[kind]} transfers from now on")
        elif kind[:1] in ("E", "L", "A", "I"):
            connection.response("504", f"TYPE {rest} not implemented: use TYPE I or TYPE A")
        else:
            connection.response("501", "TYPE wants I (binary) or A (ASCII)")
        return True

    async def abor_(self, connection: Connection, rest: str) -> bool:
        running = [worker for worker in connection.extra_workers if not worker.done()]
        if running:
            for worker in running:
                ABORTED.add(worker)
                worker.cancel()  # the transfer replies 426 (or its own end), then 226
        else:
            connection.response("226", "ABOR: no transfer is running")
        return True


def _only_one(connection: Connection, verb: str, rest: str, only: str, short: str,
              others: tuple[str, str], taken: str) -> None:
    """MODE or STRU (RFC 959 §5.1): ``only`` gets 200 (``taken``), the ``others`` RFC 959
    names 504, anything else 501."""
    value = rest.strip().upper()
    if value == only:
        connection.response("200", taken)
    elif value in others:
        connection.response("504", f"{verb} {value} not implemented: only {only} ({short})")
    else:
        connection.response("501", f"{verb} wants {only}, {others[0]} or {others[1]} "
                                   f"(only {only} is implemented)")
