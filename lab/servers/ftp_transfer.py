"""The transfers of the lab's FTP server: LIST, NLST, MLSD, RETR (with REST), STOR, APPE.

Each runs on the data connection as a worker ABOR can cancel and ends with a clear
reply on the control connection: 226 with what was sent, 426 when the data connection
vanished, 552 past the upload cap (the partial upload is removed), 451 on a file error.

A download is complete only when the client has it: having written the last byte, the
server half-closes the data connection (FIN) and waits for the client to close its end
(RFC 959's 226 "closing data connection"). A client that stops early (``curl -r 0-99``
reads 100 bytes and closes) resets the connection instead, or sends ABOR: that is 426
(transfer aborted), with the bytes its TCP acknowledged (Linux ``TCP_INFO``), not the
bytes the server wrote into its socket buffer. ABOR of a transfer still running gets 426
then 226 (RFC 959 4.1.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import struct
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aioftp import Server
from aioftp.common import Connection, ThrottleStreamIO

from lab.servers.ftp_active import connect_active
from lab.servers.guard import Refusals

BLOCK = 64 * 1024
#: How long a download waits, after its last byte and FIN, for the client to close its end
#: (clients close on EOF; one that keeps the connection open gets 226 if its TCP has all).
FINISH_WAIT = 5.0
#: Linux ``struct tcp_info``: ``tcpi_bytes_acked`` (u64) sits at this offset (kernel 4.1+).
_BYTES_ACKED = 120
_TCP_INFO = getattr(socket, "TCP_INFO", None)
#: Transfers ABOR cancelled (``abor_`` adds them): each answers ABOR with a 226 of its
#: own even when it ended before the cancel reached it (asyncio may swallow a cancel).
ABORTED: weakref.WeakSet[asyncio.Task[None]] = weakref.WeakSet()


class UploadTooLarge(Exception):
    pass


@dataclass(slots=True)
class Sending:
    """A download on its way: the bytes it has (``total``) and those written so far."""

    total: int
    written: int = 0


def acknowledged(stream: ThrottleStreamIO) -> int | None:
    """The bytes the data connection's peer acknowledged (Linux), None where unknown."""
    sock = stream.writer.get_extra_info("socket")
    if _TCP_INFO is None or sock is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:
        return None
    if len(info) < _BYTES_ACKED + 8:
        return None
    return int(struct.unpack_from("=Q", info, _BYTES_ACKED)[0])


def delivered(stream: ThrottleStreamIO, sending: Sending) -> int:
    """How many of the written bytes reached the client (its TCP acknowledged them); where
    that is unknown, those that left the server's own buffer."""
    acked = acknowledged(stream)
    if acked is not None:
        return min(acked, sending.written)  # the FIN counts one in bytes_acked
    transport = stream.writer.transport
    return max(0, sending.written - transport.get_write_buffer_size())


def _counted(stream: ThrottleStreamIO, sending: Sending | None) -> str:
    """`` (113,152 of 200,000 bytes sent)`` for a download: those the other end's TCP
    acknowledged before the connection broke."""
    if sending is None:
        return ""
    return f" ({delivered(stream, sending):,} of {sending.total:,} bytes sent)"


def link_target(path: Path, root: Path) -> str:
    """What a symbolic link in a listing points to (``ls -l``'s ``-> target``), as a
    path in the served tree: a target outside the root is not shown (it is refused)."""
    try:
        text = os.readlink(path)
        real = path.resolve()
    except (OSError, RuntimeError):
        return "(broken link)"
    if not real.is_relative_to(root):
        return "(outside the served folder)"
    if PurePosixPath(text).is_absolute():
        return "/" + real.relative_to(root).as_posix()
    return text


def options_of(rest: str) -> str:
    """LIST/NLST arguments without ``-la``-style options, which some clients send."""
    words = rest.split(" ")
    while words and words[0].startswith("-"):
        words.pop(0)
    return " ".join(words)


def mtime_text(seconds: float) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds))


#: Refusals counted (the server's panel, lab/servers/guard.py).
OVER_FOLDER_CAP = "uploads over the folder cap"


def folder_size(root: Path) -> int:
    """The bytes of every file under ``root`` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


class Transfers:
    """The transfer commands, mixed into the server class (which provides the rest).

    Uploads stop at ``upload_limit`` bytes each, and where the served folder would
    grow past ``folder_limit`` (552 either way: RFC 959 "exceeded storage
    allocation"): a shared server's students cannot fill the disk. The folder is
    measured when an upload begins with none under way; each upload's bytes are
    added as they come."""

    wait_future_timeout: float | int | None
    encoding: str
    upload_limit: int
    folder_limit: int
    root: Path
    refusals: Refusals
    _folder_used: int = 0
    _uploading: int = 0

    def _path(self, connection: Connection, command: str, rest: str) -> Path | None:
        raise NotImplementedError

    # ---- transfers -------------------------------------------------------------------

    async def _data(self, connection: Connection) -> ThrottleStreamIO | None:
        """The data connection (waiting for a passive one a little; connecting to the
        client's after PORT/EPRT); None: 425 sent."""
        if connection.future.active_address.done():
            return await connect_active(connection)
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
                  undo: Callable[[], None] = lambda: None,
                  sending: Sending | None = None) -> None:
        """Run ``job`` on the data connection as a worker ABOR can cancel: 150 first,
        then 226 with ``job``'s text, or 426 / 552 / 451. ``sending``: a download, which
        is complete once the client closed its end (see the module's doc)."""

        async def run() -> None:
            stream = await self._data(connection)
            if stream is None:
                return
            connection.response("150", f"opening the data connection for {what}")
            code, text = "226", ""
            try:
                text = await job(stream)
                if sending is not None:
                    await self._finish(stream, sending)
            except UploadTooLarge as exc:
                undo()
                code, text = "552", str(exc)
            except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
                undo()
                code, text = "426", (f"{what}: the client closed the data connection before "
                                     f"the end{_counted(stream, sending)}; transfer aborted")
            except OSError as exc:
                code, text = "451", f"{what}: file error ({exc.strerror or exc})"
            except asyncio.CancelledError:  # ABOR (or the server closing)
                code, text = "426", f"{what}: transfer aborted by ABOR{_counted(stream, sending)}"
            await self._close_data(stream, clean=code == "226")
            connection.response(code, text)
            if "by ABOR" in text:
                connection.response("226", "ABOR done: the data connection is closed")
            elif asyncio.current_task() in ABORTED:  # ABOR came as it ended: answered too
                connection.response("226", "ABOR: the transfer had already ended")

        task = asyncio.create_task(run())
        connection.extra_workers.add(task)

    async def _close_data(self, stream: ThrottleStreamIO, *, clean: bool) -> None:
        """Close the data connection (reset it unless ``clean``). An ABOR meanwhile
        changes nothing: the transfer's reply is known (it is sent, then ABOR's 226)."""
        if clean:
            stream.close()
        else:
            stream.writer.transport.abort()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(stream.writer.wait_closed(), 1.0)

    async def _finish(self, stream: ThrottleStreamIO, sending: Sending) -> None:
        """All written: FIN, then wait for the client to close its end. A reset (it
        stopped reading) raises ConnectionResetError; a client that keeps the connection
        open past FINISH_WAIT is done if its TCP acknowledged every byte."""
        writer = stream.writer
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        try:
            async with asyncio.timeout(FINISH_WAIT):
                while await stream.reader.read(BLOCK):
                    pass  # a client has nothing to say here: ignored
        except TimeoutError:
            if delivered(stream, sending) < sending.written:
                raise
        if writer.transport.get_write_buffer_size():
            raise ConnectionResetError("the client closed before the last bytes left")

    async def _send(self, stream: ThrottleStreamIO, data: bytes,
                    sending: Sending | None = None) -> None:
        stream.writer.write(data)
        if sending is not None:
            sending.written += len(data)
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
        lines = [line(entry) for entry in entries]
        data = "".join(f"{t}\r\n" for t in lines).encode(self.encoding)
        sending = Sending(len(data))

        async def job(stream: ThrottleStreamIO) -> str:
            await self._send(stream, data, sending)
            return f"{command.upper()}: {len(lines)} entries sent"

        self._transfer(connection, command.upper(), job, sending=sending)
        return True

    def _list_line(self, path: Path) -> str:
        info = path.lstat()
        name = path.name
        if stat.S_ISLNK(info.st_mode):  # as ls -l shows it: wget -r follows it so
            name += f" -> {link_target(path, self.root)}"
        return " ".join((stat.filemode(info.st_mode), str(info.st_nlink), "ftp", "ftp",
                         str(info.st_size), Server.build_list_mtime(info.st_mtime), name))

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
        sending = Sending(max(0, path.stat().st_size - offset))

        async def job(stream: ThrottleStreamIO) -> str:
            with path.open("rb") as file:
                file.seek(offset)
                while block := file.read(BLOCK):
                    await self._send(stream, block, sending)
            start = f" from byte {offset}" if offset else ""
            return f"RETR {path.name}: {sending.written} bytes sent{start}"

        self._transfer(connection, f"RETR {path.name}", job, sending=sending)
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
            if not self._uploading:
                self._folder_used = folder_size(self.root)
            self._uploading += 1
            try:
                with path.open(mode) as file:
                    if offset and not append:
                        file.seek(offset)
                    while data := await stream.reader.read(BLOCK):
                        received += len(data)
                        if start + received > limit:
                            await self._discard(stream)
                            raise UploadTooLarge(
                                f"{verb} {path.name} refused: larger than this server's "
                                f"upload limit of {limit} bytes; nothing was kept")
                        if self._folder_used + len(data) > self.folder_limit:
                            await self._discard(stream)
                            self.refusals.count(OVER_FOLDER_CAP)
                            raise UploadTooLarge(
                                f"{verb} {path.name} refused: the served folder would grow "
                                f"past its cap of {self.folder_limit // 2**20} MiB (exceeded "
                                "storage allocation); nothing was kept")
                        self._folder_used += len(data)
                        file.write(data)
            finally:
                self._uploading -= 1
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
