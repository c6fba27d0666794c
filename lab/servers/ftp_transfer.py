"""The transfers of the lab's FTP server: LIST, NLST, MLSD, RETR (with REST), STOR, APPE.

Each runs on the data connection as a worker ABOR can cancel and ends with a clear
reply on the control connection: 226 with what was sent, 426 when the data connection
vanished, 552 past the upload cap (the partial upload is removed), 451 on a file error.
"""

from __future__ import annotations

import asyncio
import contextlib
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aioftp import Server
from aioftp.common import Connection, ThrottleStreamIO

BLOCK = 64 * 1024


class UploadTooLarge(Exception):
    pass


def options_of(rest: str) -> str:
    """LIST/NLST arguments without ``-la``-style options, which some clients send."""
    words = rest.split(" ")
    while words and words[0].startswith("-"):
        words.pop(0)
    return " ".join(words)


def mtime_text(seconds: float) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds))


class Transfers:
    """The transfer commands, mixed into the server class (which provides the rest)."""

    wait_future_timeout: float | int | None
    encoding: str
    upload_limit: int

    def _path(self, connection: Connection, command: str, rest: str) -> Path | None:
        raise NotImplementedError

    # ---- transfers -------------------------------------------------------------------

    async def _data(self, connection: Connection) -> ThrottleStreamIO | None:
        """The data connection (waiting for a passive one a little); None: 425 sent."""
        if not (connection.future.data_connection.done()
                or connection.future.passive_server.done()):
            connection.response("425", "no data connection: send PASV, EPSV, PORT or EPRT "
                                       "first")
            return None
        try:
            await asyncio.wait_for(asyncio.shield(connection.future.data_connection),
                                   self.wait_future_timeout)
        except TimeoutError:
            connection.response("425", "the client did not open the data connection in time")
            return None
        stream: ThrottleStreamIO = connection.data_connection
        del connection.data_connection
        return stream

    def _transfer(self, connection: Connection, what: str,
                  job: Callable[[ThrottleStreamIO], Awaitable[str]],
                  undo: Callable[[], None] = lambda: None) -> None:
        """Run ``job`` on the data connection as a worker ABOR can cancel: 150 first,
        then 226 with ``job``'s text, or 426 / 552 / 451."""

        async def run() -> None:
            stream = await self._data(connection)
            if stream is None:
                return
            connection.response("150", f"opening the data connection for {what}")
            code, text = "226", ""
            try:
                text = await job(stream)
            except UploadTooLarge as exc:
                undo()
                code, text = "552", str(exc)
            except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
                undo()
                code, text = "426", (f"{what}: the data connection closed before the end; "
                                     "transfer aborted")
            except OSError as exc:
                code, text = "451", f"{what}: file error ({exc.strerror or exc})"
            except asyncio.CancelledError:  # ABOR (or the server closing)
                code, text = "426", f"{what}: transfer aborted by ABOR"
            finally:
                if code == "226":
                    stream.close()
                else:
                    stream.writer.transport.abort()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(stream.writer.wait_closed(), 1.0)
            connection.response(code, text)
            if text.endswith("by ABOR"):
                connection.response("226", "ABOR done")

        task = asyncio.create_task(run())
        connection.extra_workers.add(task)

    async def _send(self, stream: ThrottleStreamIO, data: bytes) -> None:
        stream.writer.write(data)
        await stream.writer.drain()

    async def _listing(self, connection: Connection, command: str, rest: str,
                       line: Callable[[Path], str]) -> bool:
        rest = options_of(rest)
        path = self._path(connection, command, rest)
        if path is None:
            return True
        if not path.exists():
            connection.response("550", f"{command.upper()}: no such file or folder: {rest!r}")
            return True
        entries = sorted(path.iterdir()) if path.is_dir() else [path]

        async def job(stream: ThrottleStreamIO) -> str:
            lines = [line(entry) for entry in entries]
            await self._send(stream, "".join(f"{t}\r\n" for t in lines).encode(self.encoding))
            return f"{command.upper()}: {len(lines)} entries sent"

        self._transfer(connection, command.upper(), job)
        return True

    def _list_line(self, path: Path) -> str:
        info = path.lstat()
        return " ".join((stat.filemode(info.st_mode), str(info.st_nlink), "ftp", "ftp",
                         str(info.st_size), Server.build_list_mtime(info.st_mtime), path.name))

    def _mlsd_line(self, path: Path) -> str:
        info = path.stat() if path.exists() else path.lstat()
        kind = "dir" if stat.S_ISDIR(info.st_mode) else (
            "file" if stat.S_ISREG(info.st_mode) else "OS.unix=symlink")
        return f"Type={kind};Size={info.st_size};Modify={mtime_text(info.st_mtime)}; {path.name}"

    async def list_(self, connection: Connection, rest: str) -> bool:
        return await self._listing(connection, "list", rest, self._list_line)

    async def nlst(self, connection: Connection, rest: str) -> bool:
        return await self._listing(connection, "nlst", rest, lambda p: p.name)

    async def mlsd_(self, connection: Connection, rest: str) -> bool:
        return await self._listing(connection, "mlsd", rest, self._mlsd_line)

    async def retr_(self, connection: Connection, rest: str) -> bool:
        path = self._path(connection, "retr", rest)
        if path is None:
            return True
        if not path.is_file():
            connection.response("550", f"RETR: no such file: {rest!r}")
            return True
        offset = connection.restart_offset

        async def job(stream: ThrottleStreamIO) -> str:
            sent = 0
            with path.open("rb") as file:
                file.seek(offset)
                while block := file.read(BLOCK):
                    await self._send(stream, block)
                    sent += len(block)
            start = f" from byte {offset}" if offset else ""
            return f"RETR {path.name}: {sent} bytes sent{start}"

        self._transfer(connection, f"RETR {path.name}", job)
        return True

    async def stor_(self, connection: Connection, rest: str, append: bool = False) -> bool:
        verb = "APPE" if append else "STOR"
        path = self._path(connection, verb.lower(), rest)
        if path is None:
            return True
        if not path.parent.is_dir() or path.is_dir():
            connection.response("550", f"{verb}: cannot write {rest!r} (no such folder, or "
                                       "it is a folder)")
            return True
        offset = connection.restart_offset
        existed = path.exists()
        before = path.stat().st_size if existed else 0
        start = before if append else offset
        limit = self.upload_limit

        def undo() -> None:
            if not existed:
                path.unlink(missing_ok=True)
            elif append:
                with path.open("r+b") as file:
                    file.truncate(before)

        async def job(stream: ThrottleStreamIO) -> str:
            received = 0
            mode = "ab" if append else ("r+b" if offset and existed else "wb")
            with path.open(mode) as file:
                if offset and not append:
                    file.seek(offset)
                while data := await stream.reader.read(BLOCK):
                    received += len(data)
                    if start + received > limit:
                        await self._discard(stream)
                        raise UploadTooLarge(
                            f"{verb} {path.name} refused: larger than this server's upload "
                            f"limit of {limit} bytes; nothing was kept")
                    file.write(data)
            return f"{verb} {path.name}: {received} bytes received"

        self._transfer(connection, f"{verb} {path.name}", job, undo)
        return True

    async def appe_(self, connection: Connection, rest: str) -> bool:
        return await self.stor_(connection, rest, append=True)

    async def _discard(self, stream: ThrottleStreamIO, most: int = 16 * 1024 * 1024) -> None:
        """Read (and drop) the rest of a refused upload, so the client gets to read 552."""
        with contextlib.suppress(ConnectionError, TimeoutError):
            while most > 0 and (data := await asyncio.wait_for(stream.reader.read(BLOCK), 5)):
                most -= len(data)
