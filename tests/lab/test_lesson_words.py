"""A lesson's words match the numbers a student sees: lesson 9's latency step names
the extra round trip the client waits and the Δt the inspector shows between the
request and its answer (timed where the Wire captures them)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lab.engine import Engine
from lab.model import Message, Sender
from lab.scenario import load
from lab.scenario_run import Runner
from lab.wire.faults import Faults, FaultState
from tests.lab.helpers import run as run_bounded

LESSON = "09-misbehaving-network"
#: What a slow machine may take off a delay (the Wire's timers fire on time or late,
#: never early: only rounding can make a delay look shorter).
SLACK_MS = 15.0


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def latency_step() -> tuple[int, int, str]:
    """The lesson's step that sets a latency: (its index, the latency, its words)."""
    scenario = load(LESSON)
    for index, step in enumerate(scenario.steps):
        if step.faults.get("latency"):
            return index, int(step.faults["latency"]), step.say
    raise AssertionError(f"{LESSON} has no latency step")


def said_ms(words: str, pattern: str) -> float:
    found = re.search(pattern, words)
    assert found is not None, f"the lesson's words do not say {pattern!r}: {words}"
    return float(found.group(1))


def test_the_words_name_the_faults_numbers() -> None:
    """The round trip the words name is the latency set; the Δt they name is what
    the Wire delays one message (half of it), whatever the machine's speed."""
    _, latency, words = latency_step()
    round_trip = said_ms(words, r"(\d+) ms more for each round trip")
    wire_dt = said_ms(words, r"Δt[^.]*?\+?(\d+) ms")
    assert round_trip == latency
    one_way = FaultState(Faults(latency=latency)).delay() * 1000
    assert wire_dt == pytest.approx(one_way)


def test_a_run_of_the_step_shows_at_least_what_the_words_say() -> None:
    """Run the lesson up to its latency step: the client waits at least the round
    trip the words name, and the Δt from the request to its answer (capture times)
    is at least the Δt they name. Lower bounds only: a busy machine adds time."""
    index, _, words = latency_step()
    round_trip = said_ms(words, r"(\d+) ms more for each round trip")
    wire_dt = said_ms(words, r"Δt[^.]*?\+?(\d+) ms")

    async def main() -> tuple[float, tuple[Message, ...]]:
        engine = Engine()
        runner = Runner(load(LESSON), engine)
        try:
            await runner.setup()
            for before in range(index):
                await runner.step(before)
            started = time.monotonic()
            result = await runner.step(index)
            waited = time.monotonic() - started
            assert result.passed, [str(c) for c in result.checks]
            return waited, result.messages
        finally:
            await runner.teardown()
            await engine.shutdown()

    waited, messages = run_bounded(main, timeout=60)
    request = next(m for m in messages if m.sender is Sender.CLIENT and not m.injected)
    answer = next(m for m in messages
                  if m.sender is Sender.SERVER and m.connection == request.connection)
    assert waited * 1000 >= round_trip - SLACK_MS
    assert (answer.time - request.time) * 1000 >= wire_dt - SLACK_MS
