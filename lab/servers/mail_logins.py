"""Who may log in to the mail servers (POP3 USER/PASS and APOP, SMTP AUTH), and the
guard that slows password guessing.

The lab's one password opens every mailbox (POP3) or logs in as the lab user (SMTP
AUTH). With the ``students`` option at N (lab/servers/students.py, realm "mail"),
``student1`` … ``studentN`` each have a password of their own, opening only their
own mailbox; the lab password then works only from this machine (the teacher's own
clients), never from another one. Every check goes through the server's LoginGuard
with the real client's address (lab/peers.py): failures are slowed per address, and
a connection is closed after guard.PER_CONNECTION of them. Every failure reads the
same whatever the user name: nothing tells a guesser which mailboxes exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import weakref
from collections.abc import Callable
from typing import Any

from lab import peers
from lab.servers.guard import PER_CONNECTION, LoginGuard, Refusals
from lab.servers.students import student_passwords

REALM = "mail"
#: The guard of each mail folder, on each event loop (a guard's locks live on one).
_GUARDS: weakref.WeakKeyDictionary[object, weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, LoginGuard]] = weakref.WeakKeyDictionary()


def _shared_guard(store: object) -> LoginGuard:
    """The one guard of the mail servers on ``store`` (made on the running loop)."""
    per_loop = _GUARDS.setdefault(store, weakref.WeakKeyDictionary())
    return per_loop.setdefault(asyncio.get_running_loop(), LoginGuard())


class MailLogins:
    """The passwords of one mail server and its guard.

    ``lab_user`` is the one user the lab password logs in as (SMTP's ``student``),
    or None for any user (POP3: the user name is the mailbox)."""

    def __init__(self, password: str, students: int, refusals: Refusals,
                 lab_user: str | None = None, store: object | None = None) -> None:
        self.password = password
        self.students = student_passwords(students, REALM)
        self.lab_user = lab_user
        self.refusals = refusals
        #: One guard for every mail server on one mail folder: POP3 and SMTP AUTH check
        #: the same passwords, so a guesser trying both gets no second turn.
        self.guard = _shared_guard(store) if store is not None else LoginGuard()

    def view(self) -> tuple[tuple[str, str], ...]:
        """The student users and their passwords, to hand out."""
        return tuple(self.students.items())

    def passwords(self, user: str, peer: Any) -> list[str]:
        """The passwords that open ``user`` for the client behind ``peer``."""
        found = [self.students[user]] if user in self.students else []
        if (not self.students or not peers.remote(peer)) and (
                self.lab_user is None or user == self.lab_user):
            found.append(self.password)
        return found

    def opens(self, user: str, password: str, peer: Any) -> bool:
        """Whether ``password`` opens ``user`` (compared in constant time)."""
        given = password.encode()
        return any([hmac.compare_digest(given, p.encode()) for p in self.passwords(user, peer)])

    def opens_apop(self, user: str, banner: str, digest: str, peer: Any) -> bool:
        """Whether ``digest`` is the APOP digest of ``banner`` and a password of ``user``."""
        given = digest.lower().encode()
        return any([hmac.compare_digest(given, hashlib.md5(
            (banner + p).encode(), usedforsecurity=False).hexdigest().encode())
            for p in self.passwords(user, peer)])

    async def check(self, peer: Any, correct: Callable[[], bool]) -> bool:
        """``correct()``, answered in the client address's turn, a failure slowed."""
        return await self.guard.check(peers.client_host(peer), correct, self.refusals)


class Strikes:
    """The failed logins of one connection."""

    def __init__(self) -> None:
        self.failures = 0

    def fail(self, logins: MailLogins) -> bool:
        """Count a failure; True when the connection must now close (counted)."""
        self.failures += 1
        if self.failures >= PER_CONNECTION:
            logins.guard.closing(logins.refusals)
            return True
        return False
