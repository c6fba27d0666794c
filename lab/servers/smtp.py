"""The SMTP server: aiosmtpd delivering into the lab's Maildirs, never relaying.

aiosmtpd's ``SMTP`` protocol is served with ``loop.create_server`` on 127.0.0.1 at a
port the system picks (not its threaded Controller); the user reaches it through its
Wire. Mail for any local part at the lab domain is stored, one copy in each
recipient's Maildir (see :mod:`lab.mail`), under a ``Return-Path:`` and a
``Received:`` header; ``RCPT TO:<postmaster>`` (no domain, RFC 5321 4.5.1) goes to
postmaster@ the lab domain. EHLO offers PIPELINING (RFC 2920). Options (all optional):

    root        the mail folder (default: ``mail/`` in the data dir)
    domain      the lab's mail domain (default ``lab.test``)
    size_limit  the largest message in bytes (default 1 MiB; SIZE in EHLO, 552 beyond)
    auth        ``on`` to offer AUTH PLAIN/LOGIN and require it before MAIL
    user        the lab user for AUTH (default ``student``)
    password    the lab user's password (default ``lab``)
    students    0 (off) or N: AUTH users student1..N with their own passwords; the lab
                user's then only from this machine (lab/servers/mail_logins.py)
    max_recipients, max_new_mailboxes, max_folder_mb
                the caps (lab/servers/mail_limits.py: 20, 20 and 100 by default)

Logins go through the server's LoginGuard (slowed per client address; the third
failure on a connection gets ``421 4.7.0`` and the connection is closed).
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from lab import peers
from lab.mail import MailboxNameError, MailListener, MailStore, mailbox_for, store_option
from lab.servers import Backend
from lab.servers.guard import Refusals
from lab.servers.mail_limits import Caps, MailLimits
from lab.servers.mail_logins import MailLogins, Strikes
from lab.servers.students import students_option

DEFAULT_DOMAIN = "lab.test"
DEFAULT_SIZE_LIMIT = 1024 * 1024
DEFAULT_USER = "student"
DEFAULT_PASSWORD = "lab"
CLOSING = ("421 4.7.0 Too many failed logins on this connection: closing it "
           "(wait a little before trying again)")


def listing(addresses: list[str], room: int = 400) -> str:
    """``a, b, c``, or as many as fit in ``room`` characters and "and N more" (a reply
    line is at most 512 octets: RFC 5321 §4.5.3.1.5)."""
    shown: list[str] = []
    for number, address in enumerate(addresses):
        if sum(len(a) + 2 for a in shown) + len(address) > room:
            return f"{', '.join(shown)} and {len(addresses) - number} more"
        shown.append(address)
    return ", ".join(shown)


class LabHandler:
    """aiosmtpd's handler: decides on each envelope and delivers the mail."""

    def __init__(self, store: MailStore, domain: str, auth: bool, limits: MailLimits) -> None:
        self.store = store
        self.domain = domain
        self.auth = auth
        self.limits = limits

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self.auth and not session.authenticated:
            return ("530 5.7.0 Authentication required: this lab server has AUTH turned "
                    "on; log in with AUTH PLAIN or AUTH LOGIN first")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """aiosmtpd's EHLO reply, with PIPELINING (RFC 2920) before its last line:
        aiosmtpd reads pipelined commands in order but does not say so."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower() == "postmaster":  # RFC 5321 4.5.1: always accepted, no domain
            address = f"postmaster@{self.domain}"
        _, _, domain = address.rpartition("@")
        if domain.lower() != self.domain:
            return (f"550 5.7.1 relaying denied: this lab server only accepts mail "
                    f"for @{self.domain}")
        try:
            name = mailbox_for(address)
        except MailboxNameError:
            return ("553 5.1.3 mailbox name not allowed: use letters, digits, "
                    "'.', '_', '+' or '-' before the @")
        refusal = self.limits.recipient(session.peer, len(envelope.rcpt_tos), name)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_VRFY(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str) -> str:
        return ("252 2.1.5 VRFY is turned off here (it would tell strangers which "
                "mailboxes exist); send the message and it will be delivered")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        delivered: dict[str, str] = {}
        copies = []
        for address in envelope.rcpt_tos:
            name = mailbox_for(address)
            if name not in delivered:
                copies.append((name, self.trace(session, envelope, address)))
                delivered[name] = address
        refusal = await self.limits.deliver(copies, content)  # in a worker thread
        if refusal is not None:
            return refusal
        return f"250 2.0.0 OK: delivered to {listing(list(delivered.values()))}"

    def trace(self, session: Session, envelope: Envelope, address: str) -> bytes:
        """The Return-Path and Received headers this server puts on top of a copy."""
        peer = peers.client_host(session.peer if isinstance(session.peer, tuple) else None)
        protocol = ("ESMTP" if session.extended_smtp else "SMTP") + (
            "A" if session.authenticated else "")
        login = session.auth_data if session.authenticated else None
        if isinstance(login, bytes):  # RFC 4954 §7: the authenticated identity may show
            peer += f" authenticated as {login.decode('utf-8', 'replace')}"
        received = (f"Received: from {session.host_name} ({peer})\r\n"
                    f"\tby {self.domain} (Client-Server Lab) with {protocol}\r\n"
                    f"\tfor <{address}>; {email.utils.formatdate(localtime=True)}\r\n")
        return f"Return-Path: <{envelope.mail_from or ''}>\r\n{received}".encode(
            "utf-8", "surrogateescape")


class LabSMTP(SMTP):
    """aiosmtpd's SMTP that tells its backend about each live connection, and says
    plainly that AUTH is off when it is."""

    def __init__(self, handler: LabHandler, live: dict[LabSMTP, None], logins: MailLogins,
                 **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.lab_auth = handler.auth
        self.live = live
        self.logins = logins
        self.strikes = Strikes()
        #: The login and password of the AUTH in progress, left by the authenticator
        #: (aiosmtpd calls it without waiting), checked by smtp_AUTH through the guard.
        self.pending: tuple[bytes, bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.live[self] = None
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.live.pop(self, None)
        super().connection_lost(error)

    def abort(self) -> asyncio.Task[None] | None:
        """Cut the connection; the task that serves it (to await its end)."""
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()
        return self._handler_coroutine

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        if not self.lab_auth:
            await self.push("502 5.5.1 AUTH is turned off on this lab server: anyone may "
                            "send mail to its own domain without logging in")
            return
        self.pending = None
        await super().smtp_AUTH(arg)
        pending, self.pending = self.pending, None
        if pending is not None and self.session is not None:
            await self.check_login(*pending)

    async def check_login(self, login: bytes, password: bytes) -> None:
        """Answer the AUTH whose credentials aiosmtpd read, in the guard's time."""
        assert self.session is not None
        peer, logins = self.session.peer, self.logins
        user = login.decode("utf-8", "replace")
        given = password.decode("utf-8", "replace")
        if await logins.check(peer, lambda: logins.opens(user, given, peer)):
            self.session.authenticated = True
            self.session.auth_data = login  # type: ignore[assignment]  # typed None
            self.session.login_data = login
            await self.push("235 2.7.0 Authentication successful")
        elif self.strikes.fail(logins):
            await self.push(CLOSING)
            if self.transport is not None:
                self.transport.close()
            if self._handler_coroutine is not None:
                self._handler_coroutine.cancel()
        else:
            await self.push("535 5.7.8 wrong user name or password for this lab server")


class SmtpBackend:
    """A running SMTP server at ``address``, storing into ``store``.

    ``watch(callback)`` (the store's) calls ``callback(MailEvent)`` after each delivery
    or deletion in the mail folder, on the engine's loop; it returns the unsubscriber."""

    def __init__(self, store: MailStore, *, domain: str = DEFAULT_DOMAIN,
                 size_limit: int = DEFAULT_SIZE_LIMIT, auth: bool = False,
                 user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD,
                 caps: Caps | None = None, students: int = 0) -> None:
        self.store = store
        self.domain = domain
        self.size_limit = size_limit
        self.auth = auth
        self.user = user
        self.password = password
        self.refusals = Refusals()
        self.limits = MailLimits(caps or Caps(), store, self.refusals)
        self.logins = MailLogins(password, students, self.refusals, lab_user=user,
                                 store=store)
        self.handler = LabHandler(store, domain, auth, self.limits)
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._live: dict[LabSMTP, None] = {}
        self._server: asyncio.Server | None = None

    def watch(self, listener: MailListener) -> Callable[[], None]:
        return self.store.watch(listener)

    def _protocol(self) -> LabSMTP:
        return LabSMTP(
            self.handler, self._live, self.logins, data_size_limit=self.size_limit,
            enable_SMTPUTF8=True, hostname=self.domain,
            ident=f"ESMTP Client-Server Lab: mail for @{self.domain} only",
            auth_require_tls=not self.auth, authenticator=self._authenticate,
            loop=asyncio.get_running_loop())

    @staticmethod
    def _authenticate(server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: object) -> AuthResult:
        """aiosmtpd's authenticator, called without waiting: it leaves the credentials
        to LabSMTP.smtp_AUTH, which checks them through the guard and answers."""
        if isinstance(server, LabSMTP) and isinstance(auth_data, LoginPassword):
            server.pending = (auth_data.login, auth_data.password)
            return AuthResult(success=False, handled=True)  # the answer comes later
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 wrong user name or password for this lab server")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, "127.0.0.1", 0)
        self.address = self._server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        """Stop listening, cut the connections still open and wait for their tasks."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = [task for proto in list(self._live) if (task := proto.abort()) is not None]
        await server.wait_closed()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)


def _size_option(text: str | None) -> int:
    if not text:
        return DEFAULT_SIZE_LIMIT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"size_limit must be a whole number of bytes above 0, not {text!r}")
    return value


def _auth_option(text: str | None) -> bool:
    value = (text or "off").strip().lower()
    if value not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"auth must be on or off, not {text!r}")
    return value in ("on", "true", "yes", "1")


async def start_smtp(options: dict[str, str]) -> Backend:
    backend = SmtpBackend(
        store_option(options),
        domain=(options.get("domain") or DEFAULT_DOMAIN).strip().lower(),
        size_limit=_size_option(options.get("size_limit")),
        auth=_auth_option(options.get("auth")),
        user=options.get("user") or DEFAULT_USER,
        password=options.get("password") or DEFAULT_PASSWORD,
        caps=Caps.from_options(options),
        students=students_option(options.get("students")),
    )
    await backend.start()
    return backend
