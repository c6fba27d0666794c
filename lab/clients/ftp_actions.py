"""The FTP client kind's actions (panels and lessons alike: see lab/clients/handle.py)
and its view: ``act(handle, verb, args)`` drives an ``FtpClient`` (lab/clients/ftp.py)
with the settings the engine holds, and shows an ``FtpView``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.clients.ftp import Entry, FtpClient, FtpClientError, Progress
from lab.model import Outcome

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

#: How much of a downloaded file an action's ``text`` carries (for ``contains``).
TEXT_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class FtpView:
    """What the FTP client shows: connected or not (``mode`` "passive" or "active"),
    the folder and its listing, and the last transfer (``transfer``: "download NAME"
    or "upload NAME"; ``done`` of ``total`` bytes, total 0 when the server did not
    say; ``saved``: where a download went; ``result``: "" while it runs, then "done"
    or why it stopped)."""

    connected: bool = False
    mode: str = ""
    cwd: str = "/"
    entries: tuple[Entry, ...] = ()
    transfer: str = ""
    done: int = 0
    total: int = 0
    saved: str = ""
    result: str = ""


def _view(handle: ClientHandle, client: FtpClient, **changes: Any) -> FtpView:
    old: FtpView = handle.state.view or FtpView()
    if not client.connected:
        changes.setdefault("entries", ())
    return replace(old, connected=client.connected, mode=client.mode, cwd=client.cwd,
                   **changes)


def _listed(entries: Sequence[Entry]) -> str:
    return "\n".join(f"{e.kind:4} {e.size:>8} {e.name}" for e in entries)


async def _relist(handle: ClientHandle, client: FtpClient, shown: str) -> Outcome:
    """List the folder again after a change, show it, and say ``shown``."""
    entries = tuple(await client.list())
    handle.show(view=_view(handle, client, entries=entries))
    return Outcome(shown, {"ok": True, "text": _listed(entries)})


async def _transfer(handle: ClientHandle, client: FtpClient, what: str,
                    run: Callable[[Progress], Awaitable[Path | str]]) -> Path | str:
    """Run one transfer, its progress shown (throttled) as it goes and its end
    (done, or why it stopped) after."""
    def progress(done: int, total: int) -> None:
        handle.progress(view=_view(handle, client, done=done, total=total))

    handle.show(view=_view(handle, client, transfer=what, done=0, total=0, saved="",
                           result=""))
    try:
        return await run(progress)
    except BaseException as exc:  # a failure, or the action itself cancelled
        stopped = str(exc) if isinstance(exc, FtpClientError) else "stopped"
        handle.show(view=_view(handle, client, result=stopped))
        raise


async def _retr(handle: ClientHandle, client: FtpClient, args: Sequence[str]) -> Outcome:
    name = args[0]
    folder = Path(args[1]) if len(args) > 1 else handle.folder
    path = Path(await _transfer(handle, client, f"download {name}",
                                lambda p: client.download(name, folder, p)))
    size = path.stat().st_size
    handle.show(view=_view(handle, client, done=size, total=size, saved=str(path),
                           result="done"))
    with path.open("rb") as file:
        text = file.read(TEXT_LIMIT).decode("utf-8", "replace")
    return Outcome(f"{path.name}: {size} bytes, saved in {path.parent}",
                   {"ok": True, "text": text})


async def _upload(handle: ClientHandle, client: FtpClient, args: Sequence[str]) -> Outcome:
    path = Path(args[0])
    name = str(await _transfer(handle, client, f"upload {path.name}",
                               lambda p: client.upload(path, p)))
    size = path.stat().st_size
    handle.show(view=_view(handle, client, done=size, total=size, result="done"))
    return await _relist(handle, client, f"{name}: {size} bytes uploaded")


async def _list(handle: ClientHandle, client: FtpClient, args: Sequence[str]) -> Outcome:
    entries = tuple(await client.list())
    handle.show(view=_view(handle, client, entries=entries))
    return Outcome(f"{len(entries)} entries:\n{_listed(entries)}",
                   {"ok": True, "text": _listed(entries)})


async def _cd(handle: ClientHandle, client: FtpClient, args: Sequence[str]) -> Outcome:
    cwd = await client.cd(args[0])
    outcome = await _relist(handle, client, f"now in {cwd}")
    return Outcome(outcome.shown, {"ok": True, "text": cwd})


async def _manage(handle: ClientHandle, client: FtpClient, verb: str,
                  args: Sequence[str]) -> Outcome:
    """mkdir, rmdir, delete NAME; rename OLD NEW: then list the folder again."""
    if verb == "rename":
        await client.rename(args[0], args[1])
        return await _relist(handle, client, f"renamed {args[0]} to {args[1]}")
    await {"mkdir": client.mkdir, "rmdir": client.rmdir, "delete": client.delete}[verb](
        args[0])
    return await _relist(handle, client, f"{verb} {args[0]}: done")


Verb = Callable[["ClientHandle", FtpClient, Sequence[str]], Awaitable[Outcome]]
VERBS: dict[str, Verb] = {"list": _list, "cd": _cd, "retr": _retr, "upload": _upload}
MANAGE = ("mkdir", "rmdir", "rename", "delete")


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``connect``, ``list``, ``cd PATH``, ``retr NAME [FOLDER]`` (download into
    FOLDER, else the client's own folder), ``upload PATH``, ``mkdir NAME``, ``rmdir
    NAME``, ``rename OLD NEW``, ``delete NAME``, ``cancel`` (the transfer under way;
    the engine runs it beside the action it stops), ``close``. A command other than
    these three connects first (settings: server, user, password, passive) if need be."""
    client: FtpClient = handle.obj
    if verb == "cancel":
        running = client.transferring
        client.cancel()
        return Outcome("cancelling the transfer" if running else "no transfer to cancel")
    if verb not in (*VERBS, *MANAGE, "connect", "close"):
        return Outcome(f"the FTP client cannot {verb!r}", {"ok": False, "text": ""})
    try:
        if verb == "close":
            await client.close()
            handle.show(view=_view(handle, client))
            return Outcome("closed")
        if verb == "connect" or not client.connected:
            await client.connect(handle.address("server"), handle.setting("user"),
                                 handle.setting("password"),
                                 passive=handle.setting("passive", "true") != "false")
            handle.show(view=_view(handle, client))
        if verb in MANAGE:
            return await _manage(handle, client, verb, args)
        return await VERBS.get(verb, _list)(handle, client, args)
    except (FtpClientError, IndexError) as exc:
        handle.show(view=_view(handle, client))
        text = str(exc) if isinstance(exc, FtpClientError) else f"{verb}: too few arguments"
        return Outcome(text, {"ok": False, "text": text})
