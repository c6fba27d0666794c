"""The login guard (lab/servers/guard.py) on its own: each failure from one address
waits longer than the last, attempts from one address take turns, a correct password
is never refused, and the table of addresses stays bounded without forgetting one
whose guesses go on."""

from __future__ import annotations

import asyncio

import pytest

from lab.servers import guard as guard_module
from lab.servers.guard import FAILED_LOGIN, LoginGuard, Refusals, delay
from tests.lab.helpers import run


def test_the_wait_doubles_from_half_a_second_to_eight() -> None:
    assert [delay(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_attempts_from_one_address_take_turns_and_a_good_password_passes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(guard_module.asyncio, "sleep", sleep)

    async def main() -> list[bool]:
        refusals = Refusals()
        guard = LoginGuard(refusals)
        results = await asyncio.gather(*(guard.check("10.0.0.2", lambda: False)
                                         for _ in range(3)))
        results.append(await guard.check("10.0.0.2", lambda: True))
        results.append(await guard.check("10.0.0.3", lambda: False))
        assert refusals.view() == ((FAILED_LOGIN, 4),)
        assert guard.failures("10.0.0.2") == 3  # a good password does not wipe it
        return results

    assert run(main) == [False, False, False, True, False]
    assert waits == [0.5, 1.0, 2.0, 0.5]  # one after the other; another address afresh


def test_the_address_table_stays_bounded_and_keeps_a_busy_guesser(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard_module, "ADDRESSES_KEPT", 3)

    async def nothing(_seconds: float) -> None:
        return None

    monkeypatch.setattr(guard_module.asyncio, "sleep", nothing)

    async def main() -> LoginGuard:
        guard = LoginGuard(Refusals())
        await guard.check("10.0.0.9", lambda: False)  # the guesser, first seen
        for n in range(10):
            await guard.check(f"10.0.1.{n}", lambda: False)
            await guard.check("10.0.0.9", lambda: False)  # still at it: recently used
        return guard

    guard = run(main)
    assert len(guard._addresses) == 3
    assert guard.failures("10.0.0.9") == 11
