"""lab/scenario_run.py: a scenario's steps run on a real Engine on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.engine import Engine
from lab.scenario import parse
from lab.scenario_run import StepResult, run
from tests.lab.helpers import run as run_bounded

SCENARIO = """\
[scenario]
title = "Runner test"

[[server]]
kind = "http"
name = "web"
port = 0

[[server]]
kind = "tcp-echo"
name = "echo"
port = 0

[[client]]
kind = "http"
name = "composer"

[[client]]
kind = "echo"
name = "nc"

[[step]]
client = "composer"
action = "get /index.html"
expect = { status = 200, contains = "<html" }

[[step]]
client = "composer"
action = "get /missing.html"
expect = { status = 200 }

[[step]]
client = "nc"
action = "send hello"
expect = { reply = "hello" }
"""


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def test_steps_run_in_order_with_their_checks_and_conversation() -> None:
    scenario = parse(SCENARIO, "test.toml")
    reported: list[int] = []

    async def main() -> list[StepResult]:
        engine = Engine()
        try:
            return await run(scenario, engine, lambda r: reported.append(r.number))
        finally:
            await engine.shutdown()

    first, second, third = run_bounded(main)
    assert reported == [1, 2, 3]
    assert first.passed and first.outcome.values["status"] == 200
    assert [m.summary.split()[:2] for m in first.messages][0] == ["GET", "/index.html"]
    assert not second.passed
    assert str(second.checks[0]) == "✗ expect status = 200 (got 404)"
    assert third.passed and third.messages



def test_a_step_held_at_a_stepping_wire_waits_for_forward(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A presenter may take longer than the step timeout to press Forward."""
    import asyncio

    from lab import scenario_run

    monkeypatch.setattr(scenario_run, "STEP_TIMEOUT", 0.3)
    scenario = parse(SCENARIO.split("[[step]]")[0] + "[[step]]" +
                     SCENARIO.split("[[step]]")[1], "test.toml")

    async def main() -> list[StepResult]:
        engine = Engine()
        try:
            engine.set_step(None, True)

            async def presenter() -> None:
                while not engine.held():  # the request waits at the Wire…
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.6)  # …longer than the step timeout
                engine.set_step(None, False)  # step mode off forwards it

            waiting = asyncio.ensure_future(presenter())
            results = await run(scenario, engine, lambda r: None)
            await waiting
            return results
        finally:
            engine.set_step(None, False)
            await engine.shutdown()

    (only,) = run_bounded(main)
    assert only.passed and only.outcome.values["status"] == 200
