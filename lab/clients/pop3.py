"""The mailbox reader: a POP3 client (RFC 1939) on asyncio streams.

``Pop3Client`` speaks the protocol, one command at a time; ``MailReader`` is
what the panel uses: open a mailbox (connect, USER/PASS, list with subjects),
read, delete, and close (QUIT, which makes deletions happen).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from typing import TYPE_CHECKING

from lab.clients import Router, Seen, patience
from lab.hold import Patience, as_given
from lab.model import Outcome, Transport, format_address, parse_address

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

TIMEOUT = 30.0
MAX_LINE = 64 * 1024


class Pop3Error(Exception):
    """The server said -ERR, or the conversation broke; the text is for the user."""


@dataclass(frozen=True, slots=True)
class Summary:
    """One message in the maildrop, as the list shows it."""

    number: int
    size: int
    uid: str
    sender: str
    subject: str
    date: str


class Pop3Client:
    """One POP3 session. Commands raise Pop3Error on -ERR."""

    def __init__(self, patient: Patience = as_given) -> None:
        self._patient = patient
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.greeting = ""
        self.local = ""
        self.busy = False  # a command waits for its answer

    async def connect(self, host: str, port: int) -> str:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=MAX_LINE), TIMEOUT)
        except (OSError, TimeoutError) as exc:
            why = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
            raise Pop3Error(f"cannot connect: {why}") from None
        self._reader, self._writer = reader, writer
        self.local = format_address(*writer.get_extra_info("sockname")[:2])
        self.greeting = await self._status()
        return self.greeting

    async def command(self, line: str, *, multiline: bool = False) -> tuple[str, bytes]:
        """Send ``line``; return the +OK text and, if ``multiline``, the unstuffed body."""
        if self._writer is None:
            raise Pop3Error("not connected")
        self.busy = True
        try:
            self._writer.write(line.encode("utf-8") + b"\r\n")
            await self._writer.drain()
            text = await self._status()
            return text, (await self._body() if multiline else b"")
        finally:
            self.busy = False

    async def _line(self) -> bytes:
        assert self._reader is not None
        try:
            line = await asyncio.wait_for(self._reader.readline(), self._patient(TIMEOUT))
        except (OSError, TimeoutError, ValueError) as exc:
            raise Pop3Error(f"the conversation broke: {exc or 'no answer'}") from None
        if not line:
            raise Pop3Error("the connection was closed")
        return line

    async def _status(self) -> str:
        line = (await self._line()).decode("utf-8", errors="replace").rstrip("\r\n")
        if line.startswith("+OK"):
            return line[3:].strip()
        raise Pop3Error(line.removeprefix("-ERR").strip() or line or "no reason given")

    async def _body(self) -> bytes:
        lines: list[bytes] = []
        while (line := await self._line()) not in (b".\r\n", b".\n"):
            lines.append(line[1:] if line.startswith(b"..") else line)  # dot-unstuff
        return b"".join(lines)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


def _numbered(body: bytes) -> list[tuple[int, str]]:
    """``1 120\\r\\n2 300`` → [(1, "120"), (2, "300")], skipping what does not parse."""
    out = []
    for line in body.decode("utf-8", errors="replace").splitlines():
        number, _, rest = line.strip().partition(" ")
        if number.isdigit():
            out.append((int(number), rest.strip()))
    return out


class MailReader:
    """The mailbox reader's engine: open, read, delete, close."""

    def __init__(self, route: Router, seen: Seen | None = None) -> None:
        self._route = route
        self._seen = seen
        self._pop: Pop3Client | None = None

    @property
    def is_open(self) -> bool:
        return self._pop is not None

    async def open(self, server: str, user: str, password: str) -> list[Summary]:
        """Log in to ``user``'s maildrop and list it (LIST, UIDL, then TOP n 0 each)."""
        await self.close()
        try:
            host, port = parse_address(server)
        except ValueError as exc:
            raise Pop3Error(str(exc)) from None
        host, port = await self._route(Transport.TCP, host, port, "pop3")
        pop = Pop3Client(patience(self._route))
        try:
            await pop.connect(host, port)
        except Pop3Error as exc:
            raise Pop3Error(f"{server}: {exc}; is a POP3 server running there?") from None
        if self._seen is not None:
            self._seen(pop.local)
        self._pop = pop
        try:
            await pop.command(f"USER {user}")
            await pop.command(f"PASS {password}")
            return await self.list()
        except Pop3Error:
            await self.close()
            raise

    async def list(self) -> list[Summary]:
        pop = self._need()
        _, listing = await pop.command("LIST", multiline=True)
        try:
            _, uids_body = await pop.command("UIDL", multiline=True)
            uids = dict(_numbered(uids_body))
        except Pop3Error:  # UIDL is optional in RFC 1939
            uids = {}
        out = []
        for number, size in _numbered(listing):
            _, head = await pop.command(f"TOP {number} 0", multiline=True)
            parsed = message_from_bytes(head, policy=policy.default)
            out.append(Summary(number, int(size) if size.isdigit() else 0,
                               uids.get(number, ""), str(parsed.get("From", "")),
                               str(parsed.get("Subject", "")), str(parsed.get("Date", ""))))
        return out

    async def read(self, number: int) -> bytes:
        _, body = await self._need().command(f"RETR {number}", multiline=True)
        return body

    async def delete(self, number: int) -> str:
        text, _ = await self._need().command(f"DELE {number}")
        return text

    async def close(self) -> str:
        """QUIT (deletions take effect) and disconnect; returns the server's goodbye."""
        pop, self._pop = self._pop, None
        if pop is None:
            return ""
        if pop.busy:  # a command still waits for its answer (held in step mode, say)
            await pop.close()
            return "closed without QUIT while a command waited: nothing was deleted"
        try:
            text, _ = await pop.command("QUIT")
        except Pop3Error as exc:
            text = str(exc)
        finally:
            await pop.close()
        return text

    def _need(self) -> Pop3Client:
        if self._pop is None:
            raise Pop3Error("not logged in: open a mailbox first")
        return self._pop


# ---- actions (panels and lessons alike: see lab/clients/handle.py) ------------------


@dataclass(frozen=True, slots=True)
class MailboxView:
    """What the reader shows: the maildrop listed (empty while closed), the numbers
    marked for deletion, and the message read last (its number and bytes)."""

    is_open: bool = False
    mailbox: str = ""
    rows: tuple[Summary, ...] = ()
    deleted: frozenset[int] = frozenset()
    number: int = 0
    message: bytes = b""


def _failed(text: str) -> Outcome:
    return Outcome(text, {"ok": False, "text": text})


def _number(verb: str, args: Sequence[str]) -> int:
    """The message number ``retr``/``dele`` was given; Pop3Error if there is none."""
    if not args or not args[0].strip().isdigit():
        raise Pop3Error(f"{verb} needs a message number, as in '{verb} 1'")
    return int(args[0])


def _listed(rows: Sequence[Summary]) -> Outcome:
    text = "\n".join(f"{r.number}: {r.sender} — {r.subject}" for r in rows)
    return Outcome(f"{len(rows)} message(s)" + (f":\n{text}" if text else ""),
                   {"ok": True, "reply": "+OK", "text": text})


async def _close(handle: ClientHandle, reader: MailReader) -> Outcome:
    text = await reader.close()
    handle.show(view=MailboxView())
    return Outcome(text or "closed", {"ok": True, "reply": "+OK" if text else "",
                                      "text": text})


async def _open(handle: ClientHandle, reader: MailReader) -> MailboxView:
    """Log in with the settings and list the maildrop (once: LIST, UIDL, TOP each)."""
    user = handle.setting("user", "ann")
    rows = await reader.open(handle.address("server"), user, handle.setting("password"))
    view = MailboxView(True, user, tuple(rows))
    handle.show(view=view)
    return view


async def _on_message(handle: ClientHandle, reader: MailReader, view: MailboxView,
                      verb: str, number: int) -> Outcome:
    """``retr`` or ``dele`` message ``number`` of the open maildrop."""
    if verb == "retr":
        body = await reader.read(number)
        handle.show(view=replace(view, number=number, message=body))
        text = body.decode("utf-8", "replace")
        return Outcome(text if len(text) <= 400 else text[:400] + "…",
                       {"ok": True, "reply": "+OK", "text": text})
    text = await reader.delete(number)
    handle.show(view=replace(view, deleted=view.deleted | {number}))
    return Outcome(text or f"message {number} marked for deletion",
                   {"ok": True, "reply": "+OK", "text": text})


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``open``, ``list``, ``retr N``, ``dele N``, ``close`` (QUIT). A command other
    than ``open`` and ``close`` opens the mailbox first if it is closed; opening
    lists it, so ``list`` on a closed mailbox lists it once."""
    reader: MailReader = handle.obj
    view: MailboxView = handle.state.view or MailboxView()
    if verb not in ("open", "list", "retr", "dele", "close"):
        return _failed(f"the mailbox reader cannot {verb!r}")
    try:
        if verb == "close":
            return await _close(handle, reader)
        number = _number(verb, args) if verb in ("retr", "dele") else 0  # before opening
        opened = verb == "open" or not reader.is_open
        if opened:
            view = await _open(handle, reader)
        if verb in ("open", "list"):
            if not opened:
                view = replace(view, rows=tuple(await reader.list()), deleted=frozenset(),
                               number=0, message=b"")
                handle.show(view=view)
            return _listed(view.rows)
        return await _on_message(handle, reader, view, verb, number)
    except Pop3Error as exc:
        if not reader.is_open:
            handle.show(view=MailboxView())
        return _failed(str(exc))
