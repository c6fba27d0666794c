"""What a lab server turns away, and the slowing of password guesses.

``Refusals`` counts, by reason, what a server refused (a bounce, a recipient over
the cap, an answer over the rate, a failed login): the server's panel shows the
counts (lab/servers/*_live.py put ``refused`` in their views), so the class sees the
attack turned away, and each refusal is also in the capture (the server's reply, or
a note: lab/peers.py).

``LoginGuard`` slows password guessing per client address (the real one, behind the
Wire: lab/peers.py): attempts from one address are answered one at a time, each
failure's answer waits longer than the last (``delay``), and a connection is closed
after PER_CONNECTION failures. A correct password after failures waits its turn too
but is never refused, and does not wipe the count (with one good password of their
own a guesser would wipe it between guesses); an address quiet for FORGET seconds
starts afresh. Nothing tells a guesser whether a user name exists (every failure
reads the same).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Failed logins on one connection before the server closes it.
PER_CONNECTION = 3
#: The wait before answering an address's Nth failed login: FIRST_DELAY doubled per
#: failure after the first, at most MAX_DELAY seconds.
FIRST_DELAY = 0.5
MAX_DELAY = 8.0
#: An address with no failed login for this long (seconds) starts afresh.
FORGET = 600.0
#: Addresses remembered at most (the oldest go first).
ADDRESSES_KEPT = 4096

#: The reasons a server counts (its panel names them so).
FAILED_LOGIN = "failed logins"
CLOSED_AFTER_FAILURES = "connections closed after failed logins"


def delay(failures: int) -> float:
    """The wait (seconds) before answering after ``failures`` failed logins in a row."""
    if failures <= 0:
        return 0.0
    return float(min(MAX_DELAY, FIRST_DELAY * 2.0 ** (failures - 1)))


class Refusals:
    """What a server refused, counted by reason, with listeners for its panel."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._listeners: list[Callable[[], None]] = []

    def count(self, reason: str, number: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + number
        for listener in list(self._listeners):
            listener()

    def view(self) -> tuple[tuple[str, int], ...]:
        """(reason, count) pairs, in the order the reasons first came."""
        return tuple(self.counts.items())

    def watch(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each count; returns the unsubscriber."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop


class _Address:
    __slots__ = ("failures", "last", "lock")

    def __init__(self) -> None:
        self.failures = 0
        self.last = 0.0  # time.monotonic() of the last failure
        self.lock = asyncio.Lock()


class LoginGuard:
    """Slows failed logins per client address (see the module's doc)."""

    def __init__(self, refusals: Refusals | None = None) -> None:
        #: Where failures are counted unless a check names its own (servers that share
        #: one guard, as the mail servers do, count each in its own panel).
        self.refusals = refusals if refusals is not None else Refusals()
        self._addresses: dict[str, _Address] = {}

    def failures(self, host: str) -> int:
        """Failed logins from ``host`` that still count."""
        entry = self._addresses.get(host)
        if entry is None or time.monotonic() - entry.last > FORGET:
            return 0
        return entry.failures

    def _entry(self, host: str) -> _Address:
        """``host``'s entry, made the newest (the least recently used go first when
        ADDRESSES_KEPT are known: never one with an attempt under way)."""
        entry = self._addresses.pop(host, None)
        if entry is None:
            if len(self._addresses) >= ADDRESSES_KEPT:
                idle = next((known for known, other in self._addresses.items()
                             if not other.lock.locked()), None)
                if idle is not None:
                    del self._addresses[idle]
            entry = _Address()
        elif time.monotonic() - entry.last > FORGET:
            entry.failures = 0
        self._addresses[host] = entry
        return entry

    async def check(self, host: str, correct: Callable[[], bool],
                    refusals: Refusals | None = None) -> bool:
        """Whether the login is ``correct()``, answered in ``host``'s turn (one attempt
        from an address at a time). A failure is counted and its answer waits
        ``delay(failures)``: the guesser learns nothing sooner, and the address's other
        attempts wait behind it."""
        entry = self._entry(host)
        async with entry.lock:
            if correct():
                return True
            entry.failures += 1
            entry.last = time.monotonic()
            (refusals or self.refusals).count(FAILED_LOGIN)
            await asyncio.sleep(delay(entry.failures))
            return False

    def closing(self, refusals: Refusals | None = None) -> None:
        """A connection is closed after PER_CONNECTION failed logins: count it."""
        (refusals or self.refusals).count(CLOSED_AFTER_FAILURES)
