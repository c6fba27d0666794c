"""POP3's AUTHORIZATION state: USER/PASS and APOP (RFC 1939 §7), through the mail
server's logins and guard (lab/servers/mail_logins.py).

A wrong password or digest is answered ``-ERR [AUTH] …`` (RFC 2449 §8.1.1: the
failure is the credentials', not a passing trouble), after the guard's delay; the
PER_CONNECTION-th on one connection says so and the server closes the connection
(RFC 3206 leaves the [AUTH] code for it). The reply never depends on whether the
mailbox exists.
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

from lab.mail import MailboxNameError, check_name
from lab.servers.guard import PER_CONNECTION
from lab.servers.mail_logins import MailLogins, Strikes


class Pop3Session(Protocol):
    """What logging in needs of a POP3 session (lab/servers/pop3.py)."""

    user: str | None
    peer: Any  # the peer address the server sees (the Wire's socket)
    banner: str  # the greeting's <...> timestamp, for APOP
    logins: MailLogins
    strikes: Strikes  # this connection's failed logins
    done: bool  # set: the connection closes after this reply

    def log_in(self, name: str) -> bytes: ...


class Pop3Error(Exception):
    """A misuse: the text follows ``-ERR `` in the reply."""


CLOSING = (f"{PER_CONNECTION} failed logins on this connection: closing it "
           "(wait a little before trying again)")


def mailbox_name(name: str) -> str:
    try:
        return check_name(name.lower())
    except MailboxNameError as exc:
        raise Pop3Error(str(exc)) from None


async def user(session: Pop3Session, name: str) -> bytes:
    session.user = mailbox_name(name)
    return f"+OK {session.user}: now send PASS with the password\r\n".encode()


async def password(session: Pop3Session, given: str) -> bytes:
    if session.user is None:
        raise Pop3Error("send USER first, then PASS")
    name, session.user = session.user, None
    logins, peer = session.logins, session.peer
    if await logins.check(peer, lambda: logins.opens(name, given, peer)):
        return session.log_in(name)
    failed(session, "[AUTH] wrong password: send USER and PASS again")


async def apop(session: Pop3Session, name: str, digest: str) -> bytes:
    name = mailbox_name(name)
    logins, peer = session.logins, session.peer
    if await logins.check(peer, lambda: logins.opens_apop(name, session.banner, digest,
                                                          peer)):
        return session.log_in(name)
    failed(session, "[AUTH] wrong digest: it must be the MD5 of the greeting's <...> "
                    "timestamp followed by the password, in hex")


def failed(session: Pop3Session, text: str) -> NoReturn:
    """Refuse the login; after PER_CONNECTION failures, close the connection too."""
    if session.strikes.fail(session.logins):
        session.done = True
        raise Pop3Error(f"[AUTH] {CLOSING}")
    raise Pop3Error(text)
