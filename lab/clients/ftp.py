"""The FTP file client: browse, download, upload and manage files over FTP.

``FtpClient`` is what the panel uses. It connects through the router with protocol
``ftp`` (so every control and data connection crosses a Wire and is captured), logs
in, and keeps ``cwd``. Passive transfers are aioftp's (EPSV, then PASV); active ones
(``passive=False``) are ours: a listener on the control connection's local host,
announced with PORT (EPRT for IPv6), accepted once the command is sent. Transfers go
in blocks, never the whole file in memory; ``cancel`` stops the one in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import aioftp
from aioftp.client import DataConnectionThrottleStreamIO
from aioftp.common import async_enterable

from lab.clients import Router, Seen, patience
from lab.model import Transport, format_address, parse_address

if TYPE_CHECKING:
    pass

TIMEOUT = 30.0
BLOCK = 64 * 1024
Progress = Callable[[int, int], None]


class FtpClientError(Exception):
    """The server refused, or the conversation broke; the text is for the user."""


class _Cancelled(Exception):
    """Raised inside a transfer between two blocks once ``cancel`` was called."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a folder listing."""

    name: str
    kind: str  # "file" | "dir"
    size: int
    modified: str  # "YYYY-MM-DD HH:MM" (UTC), "" if unknown


class _Client(aioftp.Client):
    """aioftp's client, plus active mode (PORT/EPRT and a listener of our own)."""

    active = False
    #: The passive data connection aioftp opened last (see get_stream).
    _data_writer: asyncio.StreamWriter | None = None

    async def get_passive_connection(self, *args: Any, **kwargs: Any) -> Any:
        reader, writer = await super().get_passive_connection(*args, **kwargs)
        self._data_writer = writer  # (see get_stream)
        return reader, writer

    @async_enterable
    async def get_stream(
        self,
        command: str | None = None,
        expected_codes: str | tuple[str, ...] = (),
        wait_codes: str | tuple[str, ...] = (),
        censor_after: int | None = None,
        conn_type: Any = "I",
        offset: int = 0,
    ) -> DataConnectionThrottleStreamIO:
        if not self.active:
            self._data_writer = None
            try:
                stream: DataConnectionThrottleStreamIO = await super().get_stream(
                    command, expected_codes, wait_codes, censor_after, conn_type, offset)
            except BaseException:
                # aioftp leaves the data connection it opened when the command fails
                # (550 for a missing file): one socket (and one Wire link) per failure
                if self._data_writer is not None:
                    self._data_writer.close()
                raise
            return stream
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            loop.create_future())

        def arrived(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if accepted.done():
                writer.close()  # one data connection per listener
            else:
                accepted.set_result((reader, writer))

        host = self.stream.writer.get_extra_info("sockname")[0]
        listener = await asyncio.start_server(arrived, host, 0)
        try:
            port = listener.sockets[0].getsockname()[1]
            await self.command("TYPE " + conn_type, "200")
            if ipaddress.ip_address(host).version == 4:
                numbers = ",".join([*host.split("."), str(port >> 8), str(port & 0xFF)])
                await self.command(f"PORT {numbers}", "200")
            else:
                await self.command(f"EPRT |2|{host}|{port}|", "200")
            if offset:
                await self.command("REST " + str(offset), "350")
            await self.command(command, expected_codes, wait_codes, censor_after)
            reader, writer = await asyncio.wait_for(accepted, self.socket_timeout or TIMEOUT)
        finally:
            listener.close()
        return DataConnectionThrottleStreamIO(self, reader, writer,
                                              throttles={"_": self.throttle},
                                              timeout=self.socket_timeout)


def _modified(text: str) -> str:
    """MLSD's ``20240131120500`` → ``2024-01-31 12:05``; other forms as they are."""
    if len(text) >= 12 and text[:12].isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:8]} {text[8:10]}:{text[10:12]}"
    return text


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, aioftp.StatusCodeError):
        code = str(exc.received_codes[-1]) if exc.received_codes else ""
        text = " ".join(line.strip() for line in exc.info if line.strip())
        return f"{code} {text}".strip() or "the server refused"
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, OSError):
        return f"the connection broke: {exc.strerror or exc}"
    return f"the conversation broke: {exc}"


class FtpClient:
    """The FTP file client's engine, one session at a time."""

    def __init__(self, route: Router, seen: Seen | None = None) -> None:
        self._route = route
        self._seen = seen
        self._ftp: _Client | None = None
        self._login: tuple[str, str, str, bool] | None = None
        self._transfer: asyncio.Task[Any] | None = None
        self._cancelling = False
        self.cwd = "/"

    @property
    def connected(self) -> bool:
        return self._ftp is not None

    @property
    def mode(self) -> str:
        """"passive" or "active" while connected, else ""."""
        if self._ftp is None:
            return ""
        return "active" if self._ftp.active else "passive"

    @property
    def transferring(self) -> bool:
        return self._transfer is not None and not self._transfer.done()

    # ---- session ---------------------------------------------------------------------

    async def connect(self, server: str, user: str, password: str, *,
                      passive: bool = True) -> str:
        """Connect to ``server`` ("host:port"), log in, and return the current folder."""
        await self.close()
        try:
            host, port = parse_address(server)
        except ValueError as exc:
            raise FtpClientError(str(exc)) from None
        where = format_address(host, port)
        host, port = await self._route(Transport.TCP, host, port, "ftp")
        patient = patience(self._route)
        ftp = _Client(socket_timeout=patient(TIMEOUT), connection_timeout=patient(TIMEOUT))
        ftp.active = not passive
        try:
            await ftp.connect(host, port)
        except (OSError, TimeoutError) as exc:
            ftp.close()
            raise FtpClientError(f"{where}: cannot connect ({_sentence(exc)}); is an FTP "
                                 "server running there?") from None
        except aioftp.AIOFTPException as exc:
            ftp.close()
            raise FtpClientError(f"{where}: {_sentence(exc)}") from None
        if self._seen is not None:
            self._seen(format_address(*ftp.stream.writer.get_extra_info("sockname")[:2]))
        self._ftp = ftp
        try:
            with self._errors("login"):
                await ftp.login(user, password)
            self.cwd = await self._pwd()
        except FtpClientError:
            await self.close()
            raise
        self._login = (server, user, password, passive)
        return self.cwd

    async def close(self) -> None:
        """Stop a transfer under way, QUIT and disconnect (quietly if the connection
        is already gone)."""
        task = self._transfer
        if task is not None and not task.done():
            self._cancelling = True
            task.cancel()
        ftp, self._ftp = self._ftp, None
        if ftp is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ftp.quit(), 5)
        ftp.close()

    # ---- folders ---------------------------------------------------------------------

    async def list(self) -> list[Entry]:
        """The current folder's entries, folders first, then by name."""
        ftp = self._need()
        entries: list[Entry] = []
        with self._errors("list"):
            for path, info in await ftp.list():
                kind = "dir" if info.get("type") == "dir" else "file"
                size = str(info.get("size", "0"))
                entries.append(Entry(PurePosixPath(path).name, kind,
                                     int(size) if size.isdigit() else 0,
                                     _modified(str(info.get("modify", "")))))
        entries.sort(key=lambda e: (e.kind != "dir", e.name.lower(), e.name))
        return entries

    async def cd(self, path: str) -> str:
        """Go to ``..``, a sub-folder's name, or an absolute path; return the new cwd."""
        ftp = self._need()
        with self._errors(f"cd {path}"):
            if path == "..":
                await ftp.command("CDUP", "2xx")
            else:
                await ftp.change_directory(path)
        self.cwd = await self._pwd()
        return self.cwd

    async def mkdir(self, name: str) -> None:
        with self._errors(f"mkdir {name}"):
            await self._need().command("MKD " + name, "257")

    async def rmdir(self, name: str) -> None:
        with self._errors(f"rmdir {name}"):
            await self._need().remove_directory(name)

    async def rename(self, old: str, new: str) -> None:
        with self._errors(f"rename {old}"):
            await self._need().rename(old, new)

    async def delete(self, name: str) -> None:
        with self._errors(f"delete {name}"):
            await self._need().remove_file(name)

    # ---- transfers -------------------------------------------------------------------

    async def download(self, name: str, folder: Path,
                       progress: Progress | None = None) -> Path:
        """RETR ``name`` into ``folder/name``, block by block; ``progress(done, total)``
        as bytes arrive (total from SIZE, 0 if the server does not say)."""
        ftp = self._need()
        target = Path(folder) / PurePosixPath(name).name
        total = await self._size(name)
        done = 0

        async def transfer() -> None:
            nonlocal done
            with self._errors(f"download {name}"):
                async with ftp.download_stream(name) as stream:
                    with target.open("wb") as file:
                        async for block in stream.iter_by_block(BLOCK):
                            if self._cancelling:
                                raise _Cancelled
                            file.write(block)
                            done += len(block)
                            if progress is not None:
                                progress(done, total)

        try:
            await self._run(transfer())
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target

    async def upload(self, path: Path, progress: Progress | None = None) -> str:
        """STOR the local file ``path`` into the current folder; return its remote name."""
        ftp = self._need()
        path = Path(path)
        try:
            total = path.stat().st_size
            file = path.open("rb")
        except OSError as exc:
            raise FtpClientError(f"cannot read {path}: {exc.strerror or exc}") from None

        async def transfer() -> None:
            done = 0
            with file, self._errors(f"upload {path.name}"):
                async with ftp.upload_stream(path.name) as stream:
                    while block := file.read(BLOCK):
                        if self._cancelling:
                            raise _Cancelled
                        await stream.write(block)
                        done += len(block)
                        if progress is not None:
                            progress(done, total)

        await self._run(transfer())
        return path.name

    def cancel(self) -> None:
        """Stop the transfer in progress: it raises FtpClientError("cancelled")."""
        task = self._transfer
        if task is None or task.done():
            return
        self._cancelling = True  # seen between two blocks
        # and if the transfer is stalled waiting for data, stop the wait as well
        task.get_loop().call_soon_threadsafe(task.cancel)

    # ---- helpers ---------------------------------------------------------------------

    async def _run(self, transfer: Any) -> None:
        """Run one transfer as a task ``cancel`` can stop; afterwards make sure the
        control connection is usable again (read the server's last word, or log in
        anew)."""
        if self._transfer is not None and not self._transfer.done():
            transfer.close()
            raise FtpClientError("a transfer is already in progress: wait or cancel it")
        task = asyncio.ensure_future(transfer)
        self._transfer, self._cancelling = task, False
        try:
            await asyncio.shield(task)
        except _Cancelled:
            await self._recover()
            raise FtpClientError("cancelled") from None
        except asyncio.CancelledError:
            if task.cancelled() and self._cancelling:
                await self._recover()
                raise FtpClientError("cancelled") from None
            task.cancel()  # we ourselves were cancelled: stop the transfer too
            raise
        finally:
            self._transfer, self._cancelling = None, False

    async def _recover(self) -> None:
        """After a cancelled transfer: the server answers 426 (or 226) on the control
        connection; read it, or reconnect if the conversation is out of step."""
        ftp = self._ftp
        try:
            if ftp is None:
                raise ConnectionError
            await asyncio.wait_for(ftp.command(None, ("2xx", "4xx", "5xx"), "1xx"), 3)
            await asyncio.wait_for(ftp.command("NOOP", "200"), 3)
        except Exception:
            await self._reconnect()

    async def _reconnect(self) -> None:
        if self._login is None:
            return
        server, user, password, passive = self._login
        cwd = self.cwd
        with contextlib.suppress(FtpClientError):
            await self.connect(server, user, password, passive=passive)
            if cwd != self.cwd:
                await self.cd(cwd)

    async def _size(self, name: str) -> int:
        ftp = self._need()
        try:
            _, info = await ftp.command("SIZE " + name, "213")
        except aioftp.StatusCodeError:
            return 0
        except (OSError, aioftp.AIOFTPException) as exc:
            raise FtpClientError(f"download {name}: {_sentence(exc)}") from None
        text = " ".join(info).strip()
        return int(text) if text.isdigit() else 0

    async def _pwd(self) -> str:
        with self._errors("pwd"):
            return str(await self._need().get_current_directory())
        raise AssertionError("unreachable")  # pragma: no cover

    def _need(self) -> _Client:
        if self._ftp is None:
            raise FtpClientError("not connected: connect to a server first")
        return self._ftp

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """aioftp's and the network's exceptions → FtpClientError with the server's
        text; a broken connection also ends the session."""
        try:
            yield
        except aioftp.StatusCodeError as exc:
            raise FtpClientError(f"{what}: {_sentence(exc)}") from None
        except (OSError, TimeoutError, aioftp.AIOFTPException, ValueError) as exc:
            ftp, self._ftp = self._ftp, None
            if ftp is not None:
                ftp.close()
            raise FtpClientError(f"{what}: {_sentence(exc)}") from None
