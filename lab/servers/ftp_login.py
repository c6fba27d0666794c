"""Logging in to the lab's FTP server: its users, and the slowing of password guesses.

The users: ``anonymous`` (or ``ftp``) with any password, read-only; the lab user; and,
with the ``students`` option at N, ``student1`` … ``studentN``, each with a password of
its own (lab/servers/students.py) and the lab user's rights. With students on, the
lab user's password works from this machine only (the teacher's own clients, over
loopback or the address the server is shared on), never from another one.

Every user name gets ``331`` (a password is wanted), known or not, and every failure
reads the same: a guesser learns no user names. Each failed PASS goes through the
server's LoginGuard (lab/servers/guard.py) under the real client's address
(lab/peers.py): its answer waits longer after each failure from that address, and the
third failure on one connection is answered ``421`` and the connection closed
(RFC 2577 §5).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from aioftp import AbstractUserManager, Permission, User
from aioftp.common import Connection

from lab import peers
from lab.servers.guard import PER_CONNECTION, LoginGuard

ANONYMOUS = ("anonymous", "ftp")
GetUser = AbstractUserManager.GetUserResponse


class LabUsers(AbstractUserManager):
    """``anonymous``/``ftp`` with any password (read-only), the lab user and the
    students (see the module's doc)."""

    def __init__(self, root: Path, user: str, password: str,
                 students: dict[str, str] | None = None) -> None:
        super().__init__()
        self.lab = User(user, password, base_path=root, permissions=[Permission("/")])
        self.students = {name: User(name, secret, base_path=root,
                                    permissions=[Permission("/")])
                         for name, secret in (students or {}).items()}
        self.anonymous = User("anonymous", None, base_path=root,
                              permissions=[Permission("/", writable=False)])
        #: Any other name: asked for a password like the others, never logged in.
        self.nobody = User("", None, base_path=root,
                           permissions=[Permission("/", readable=False, writable=False)])

    async def get_user(self, login: str) -> tuple[Any, User | None, str]:
        if login.lower() in ANONYMOUS:
            return (GetUser.PASSWORD_REQUIRED, self.anonymous,
                    "anonymous login (read-only): send any password, by tradition your "
                    "e-mail address")
        return GetUser.PASSWORD_REQUIRED, self.user(login), f"password required for {login}"

    def user(self, login: str) -> User:
        if login == self.lab.login:
            return self.lab
        return self.students.get(login, self.nobody)

    def accepts(self, user: User, password: str, remote: bool) -> bool:
        """Whether ``password`` logs ``user`` in, for a client on another machine
        (``remote``) or this one."""
        if user is self.nobody or (user is self.lab and remote and self.students):
            hmac.compare_digest(password.encode(), b"-")  # the same work as a real check
            return False
        return hmac.compare_digest(password.encode(), (user.password or "").encode())

    async def authenticate(self, user: User, password: str) -> bool:
        return user is self.anonymous or self.accepts(user, password, remote=False)


async def log_in(users: LabUsers, guard: LoginGuard, connection: Connection,
                 password: str) -> bool:
    """PASS: log in (230), or refuse (530, after the guard's wait); after PER_CONNECTION
    failures 421 and False (the session ends)."""
    if not connection.future.user.done():
        connection.response("503", "send USER first, then PASS")
        return True
    if connection.future.logged.done():
        connection.response("503", "already logged in")
        return True
    user = connection.user
    if user is users.anonymous:
        connection.logged = True
        connection.response("230", "logged in as anonymous: list and download only")
        return True
    peer = (connection.client_host, connection.client_port)
    remote = peers.remote(peer)
    if await guard.check(peers.client_host(peer), lambda: users.accepts(user, password, remote)):
        connection.logged = True
        connection.response("230", f"logged in as {user.login}")
        return True
    failures = int(getattr(connection, "failed_logins", 0)) + 1
    connection.failed_logins = failures
    if failures >= PER_CONNECTION:
        guard.closing()
        connection.response("421", f"{failures} failed logins on this connection: closing "
                                   "it (password guessing is slowed and cut off, RFC 2577)")
        return False
    connection.response("530", "login incorrect: wrong user name or password")
    return True
