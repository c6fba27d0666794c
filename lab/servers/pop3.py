"""The POP3 server: a small asyncio server (RFC 1939, CAPA from RFC 2449) on the
lab's Maildirs, the same ones the SMTP server delivers into.

It listens on 127.0.0.1 at a port the system picks; the user reaches it through its
Wire. The user name is the mailbox name (``ann`` for ``ann@lab.test``); every mailbox
shares the lab password. Logins are slowed and limited (lab/servers/pop3_login.py).
Options (all optional):

    root      the mail folder (default: ``mail/`` in the data dir)
    password  the lab password (default ``lab``)
    domain    the host name in the APOP timestamp (default ``lab.test``)
    students  0 (off) or N: users student1..N with their own passwords, each opening
              only its own mailbox (lab/servers/mail_logins.py)

A session goes AUTHORIZATION (USER/PASS or APOP) → TRANSACTION → UPDATE (on QUIT,
where messages marked with DELE are removed; a dropped connection removes nothing).
Every misuse gets ``-ERR`` and a reason, and the session goes on.
"""

from __future__ import annotations

import asyncio
import enum
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lab.mail import MailListener, MailStore, MailSummary, store_option
from lab.servers import Backend, pop3_login
from lab.servers.guard import Refusals
from lab.servers.mail_logins import MailLogins, Strikes
from lab.servers.pop3_login import Pop3Error
from lab.servers.students import students_option

DEFAULT_PASSWORD = "lab"
DEFAULT_DOMAIN = "lab.test"
MAX_LINE = 255  # octets in a command line, CRLF included (RFC 2449 section 4)
IDLE_TIMEOUT = 600.0  # RFC 1939's autologout timer: at least 10 minutes
CAPABILITIES = ("TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES",
                "IMPLEMENTATION Client-Server-Lab")


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"


@dataclass
class Drop:
    """The maildrop a session holds: the messages as they were at login."""

    name: str
    messages: list[MailSummary]
    deleted: set[int]

    def live(self) -> list[tuple[int, MailSummary]]:
        return [(n, m) for n, m in enumerate(self.messages, 1) if n not in self.deleted]

    def totals(self) -> str:
        live = self.live()
        return f"{len(live)} {sum(m.size for _, m in live)}"


def plural(count: int | str, word: str) -> str:
    return f"{count} {word}" if int(count) == 1 else f"{count} {word}s"


def dot_stuff(lines: list[bytes]) -> bytes:
    """Lines (without line ends) as a multi-line response body ending in ``.``."""
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n"
                    for line in lines) + b".\r\n"


def message_lines(wire: bytes) -> list[bytes]:
    body = wire[:-2] if wire.endswith(b"\r\n") else wire
    return body.split(b"\r\n") if body else []


def top_lines(wire: bytes, count: int) -> list[bytes]:
    """The header, the blank line and the first ``count`` lines of the body."""
    lines = message_lines(wire)
    blank = lines.index(b"") if b"" in lines else len(lines)
    return lines[: blank + 1 + count]


Handler = Callable[["Pop3Session", list[str]], Awaitable[bytes]]
COMMANDS: dict[str, tuple[frozenset[State], Handler]] = {}


def command(*states: State) -> Callable[[Handler], Handler]:
    """Register a ``cmd_NAME`` method as the handler of NAME in ``states``."""

    def register(handler: Handler) -> Handler:
        COMMANDS[handler.__name__.removeprefix("cmd_").upper()] = (frozenset(states), handler)
        return handler

    return register


AUTH = State.AUTHORIZATION
TRANS = State.TRANSACTION


class Pop3Session:
    """One client's conversation, from greeting to QUIT or a dropped connection."""

    def __init__(self, backend: Pop3Backend, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.backend = backend
        self.store = backend.store
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self.logins = backend.logins
        self.strikes = Strikes()
        self.state = State.AUTHORIZATION
        self.user: str | None = None
        self.drop: Drop | None = None
        self.banner = f"<{os.getpid()}.{time.time_ns()}@{backend.domain}>"
        self.done = False

    # ---- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self.send(b"+OK Client-Server Lab POP3 server ready " +
                            self.banner.encode() + b"\r\n")
            while not self.done:
                line = await self.read_line()
                if line is None:
                    break
                await self.send(await self.answer(line))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing is deleted
        finally:
            if self.drop is not None:  # no QUIT: nothing is deleted
                self.store.unlock(self.drop.name, self)
            self.writer.close()

    async def read_line(self) -> bytes | None:
        """The next command line; None at end of input or after the idle timeout."""
        try:
            return await asyncio.wait_for(self._read_line(), self.backend.idle_timeout)
        except TimeoutError:
            idle = self.backend.idle_timeout
            span = f"{idle / 60:g} minutes" if idle >= 60 else f"{idle:g} seconds"
            await self.send(f"-ERR idle for {span}: closing the connection "
                            "(nothing was deleted)\r\n".encode())
            return None

    async def _read_line(self) -> bytes | None:
        try:
            return await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:  # end of input (a partial line is dropped)
            return None
        except asyncio.LimitOverrunError as exc:  # longer than the buffer: skip it all
            await self.reader.readexactly(exc.consumed)
            while True:
                try:
                    await self.reader.readuntil(b"\n")
                    return b"\x00" * (MAX_LINE + 1)  # too long, whatever it said
                except asyncio.LimitOverrunError as more:
                    await self.reader.readexactly(more.consumed)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, line: bytes) -> bytes:
        try:
            return await self.dispatch(line)
        except Pop3Error as exc:
            return f"-ERR {exc}\r\n".encode()

    async def dispatch(self, line: bytes) -> bytes:
        if len(line) > MAX_LINE:
            raise Pop3Error(f"command line too long: at most {MAX_LINE} octets with CRLF")
        try:
            text = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise Pop3Error("commands are text: this line is not valid UTF-8") from None
        name, *args = text.split(" ") if text.strip() else [""]
        name = name.upper()
        if name not in COMMANDS:
            shown = "".join(c for c in name[:20] if c.isprintable())
            raise Pop3Error(f'unknown command "{shown}": CAPA lists what this server '
                            "understands" if shown else "empty command line")
        states, handler = COMMANDS[name]
        if self.state not in states:
            raise Pop3Error(f"{name} is not allowed now: " + (
                "log in first with USER and PASS (or APOP)" if self.state is AUTH
                else "you are already logged in"))
        return await handler(self, args)

    # ---- helpers --------------------------------------------------------------------

    @staticmethod
    def want(args: list[str], low: int, high: int, usage: str) -> list[str]:
        if not low <= len(args) <= high or any(not a for a in args):
            raise Pop3Error(f"usage: {usage}")
        return args

    def message(self, text: str) -> tuple[int, MailSummary]:
        """The message numbered ``text``, if it exists and is not marked deleted."""
        assert self.drop is not None
        if not text.isdigit():
            raise Pop3Error(f"{text!r} is not a message number (they start at 1)")
        number = int(text)
        if not 1 <= number <= len(self.drop.messages):
            raise Pop3Error(f"no such message: the maildrop has messages 1 to "
                            f"{len(self.drop.messages)}" if self.drop.messages
                            else "no such message: the maildrop is empty")
        if number in self.drop.deleted:
            raise Pop3Error(f"message {number} already deleted")
        return number, self.drop.messages[number - 1]

    def read(self, summary: MailSummary) -> bytes:
        try:
            return self.store.read(summary.mailbox, summary.key)
        except (KeyError, FileNotFoundError):
            raise Pop3Error("that message has gone from the mailbox") from None

    def log_in(self, name: str) -> bytes:
        if not self.store.lock(name, self):
            self.user = None
            raise Pop3Error(f"[IN-USE] maildrop already locked: another session is "
                            f"reading {name}'s mail")
        self.drop = Drop(name, self.store.list(name), set())
        self.state = TRANS
        count, size = self.drop.totals().split()
        return (f"+OK {name}'s maildrop has {plural(count, 'message')} "
                f"({plural(size, 'octet')})\r\n").encode()

    # ---- AUTHORIZATION --------------------------------------------------------------

    @command(AUTH)
    async def cmd_user(self, args: list[str]) -> bytes:
        (name,) = self.want(args, 1, 1, "USER name (the mailbox, like ann)")
        return await pop3_login.user(self, name)

    @command(AUTH)
    async def cmd_pass(self, args: list[str]) -> bytes:
        return await pop3_login.password(self, " ".join(args))  # RFC 1939: spaces allowed

    @command(AUTH)
    async def cmd_apop(self, args: list[str]) -> bytes:
        name, digest = self.want(args, 2, 2, "APOP name digest")
        return await pop3_login.apop(self, name, digest)

    @command(AUTH, TRANS)
    async def cmd_capa(self, args: list[str]) -> bytes:
        self.want(args, 0, 0, "CAPA")
        return b"+OK capability list follows\r\n" + dot_stuff(
            [c.encode() for c in CAPABILITIES])

    @command(AUTH, TRANS)
    async def cmd_quit(self, args: list[str]) -> bytes:
        self.want(args, 0, 0, "QUIT")
        self.done = True
        if self.drop is None:
            return b"+OK Client-Server Lab POP3 server signing off\r\n"
        drop, self.drop = self.drop, None
        try:
            gone = [m for n, m in enumerate(drop.messages, 1)
                    if n in drop.deleted and self.store.delete(m.mailbox, m.key)]
        finally:
            self.store.unlock(drop.name, self)
        if len(gone) < len(drop.deleted):
            return b"-ERR some deleted messages were not removed\r\n"
        return (f"+OK signing off ({plural(len(gone), 'message')} deleted, "
                f"{len(drop.live())} left)\r\n").encode()

    # ---- TRANSACTION ----------------------------------------------------------------

    @command(TRANS)
    async def cmd_stat(self, args: list[str]) -> bytes:
        self.want(args, 0, 0, "STAT")
        assert self.drop is not None
        return f"+OK {self.drop.totals()}\r\n".encode()

    @command(TRANS)
    async def cmd_list(self, args: list[str]) -> bytes:
        self.want(args, 0, 1, "LIST [message number]")
        assert self.drop is not None
        if args:
            number, summary = self.message(args[0])
            return f"+OK {number} {summary.size}\r\n".encode()
        live = self.drop.live()
        count, size = self.drop.totals().split()
        return (f"+OK {plural(count, 'message')} ({plural(size, 'octet')})\r\n".encode()
                + dot_stuff([f"{n} {m.size}".encode() for n, m in live]))

    @command(TRANS)
    async def cmd_uidl(self, args: list[str]) -> bytes:
        self.want(args, 0, 1, "UIDL [message number]")
        assert self.drop is not None
        if args:
            number, summary = self.message(args[0])
            return f"+OK {number} {summary.uid}\r\n".encode()
        return b"+OK unique-id listing follows\r\n" + dot_stuff(
            [f"{n} {m.uid}".encode() for n, m in self.drop.live()])

    @command(TRANS)
    async def cmd_retr(self, args: list[str]) -> bytes:
        (text,) = self.want(args, 1, 1, "RETR message number")
        _, summary = self.message(text)
        wire = self.read(summary)
        return f"+OK {len(wire)} octets\r\n".encode() + dot_stuff(message_lines(wire))

    @command(TRANS)
    async def cmd_top(self, args: list[str]) -> bytes:
        text, count = self.want(args, 2, 2, "TOP message number, number of body lines")
        _, summary = self.message(text)
        if not count.isdigit():
            raise Pop3Error(f"{count!r} is not a number of lines (0 or more)")
        lines = top_lines(self.read(summary), int(count))  # "+OK <size> ..." as RETR's:
        size = sum(len(line) + 2 for line in lines)  # Wireshark reads it (else malformed)
        return f"+OK {size} octets: the header and {count} body lines\r\n".encode() + (
            dot_stuff(lines))

    @command(TRANS)
    async def cmd_dele(self, args: list[str]) -> bytes:
        (text,) = self.want(args, 1, 1, "DELE message number")
        number, _ = self.message(text)
        assert self.drop is not None
        self.drop.deleted.add(number)
        return f"+OK message {number} marked for deletion (at QUIT)\r\n".encode()

    @command(TRANS)
    async def cmd_rset(self, args: list[str]) -> bytes:
        self.want(args, 0, 0, "RSET")
        assert self.drop is not None
        self.drop.deleted.clear()
        count, size = self.drop.totals().split()
        return (f"+OK maildrop has {plural(count, 'message')} "
                f"({plural(size, 'octet')})\r\n").encode()

    @command(TRANS)
    async def cmd_noop(self, args: list[str]) -> bytes:
        self.want(args, 0, 0, "NOOP")
        return b"+OK\r\n"


class Pop3Backend:
    """A running POP3 server at ``address`` on ``store``.

    ``watch(callback)`` (the store's) calls ``callback(MailEvent)`` after each delivery
    or deletion in the mail folder, on the engine's loop; it returns the unsubscriber."""

    def __init__(self, store: MailStore, *, password: str = DEFAULT_PASSWORD,
                 domain: str = DEFAULT_DOMAIN, idle_timeout: float = IDLE_TIMEOUT,
                 students: int = 0) -> None:
        self.store = store
        self.password = password
        self.refusals = Refusals()
        self.logins = MailLogins(password, students, self.refusals, store=store)
        self.domain = domain
        self.idle_timeout = idle_timeout
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._server: asyncio.Server | None = None
        self._sessions: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    def watch(self, listener: MailListener) -> Callable[[], None]:
        return self.store.watch(listener)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions[task] = writer
        try:
            await Pop3Session(self, reader, writer).run()
        finally:
            self._sessions.pop(task, None)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=4096)
        self.address = self._server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        """Stop listening, cut the sessions still open (deleting nothing) and wait."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._sessions)
        for writer in list(self._sessions.values()):
            writer.transport.abort()  # the session reads EOF and ends (no UPDATE)
        await server.wait_closed()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=2.0)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck, timeout=1.0)


async def start_pop3(options: dict[str, str]) -> Backend:
    backend = Pop3Backend(store_option(options),
                          password=options.get("password") or DEFAULT_PASSWORD,
                          domain=(options.get("domain") or DEFAULT_DOMAIN).strip().lower(),
                          students=students_option(options.get("students")))
    await backend.start()
    return backend
