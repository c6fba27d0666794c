"""A kind defined only in the test suite (tests/qotd, tests/kinds_fixture.py) is
served by ``cslab serve``, runs in a scenario, is dissected, paired and explained:
adding a protocol is its own modules plus one row in lab/kinds.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import kinds
from lab.explain import explain
from lab.scenario import load

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
[scenario]
title = "Quotes"

[[server]]
kind = "qotd"
port = 0

[[client]]
kind = "qotd"

[[step]]
client = "qotd"
action = "quote 2"
expect = { status = 200, contains = "Simple is better" }
"""


@pytest.fixture(autouse=True)
def qotd() -> Iterator[kinds.Kind]:
    """The qotd row in the table for this test only (importing tests.kinds_fixture
    added it once; other tests must not see it)."""
    from tests.kinds_fixture import QOTD

    kinds.register(QOTD)
    yield QOTD
    kinds.unregister(QOTD.name)


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120, cwd=ROOT).stdout


def test_the_kind_is_in_cslab_serve_help() -> None:
    out = _python("import tests.kinds_fixture\nfrom lab.cli import main\n"
                  "try:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n")
    assert "qotd" in out and "Quote of the day server (port 1717)" in out


def test_registering_imports_none_of_its_modules() -> None:
    out = _python("import sys\nimport tests.kinds_fixture\n"
                  "from lab.servers import server_kinds\nfrom lab.clients import client_kinds\n"
                  "from lab.scenario import actions\n"
                  "assert 'qotd' in server_kinds() and 'qotd' in client_kinds()\n"
                  "assert 'quote' in actions()['qotd']\n"
                  "from tests.kinds_fixture import QOTD_MODULES\n"
                  "print([m for m in QOTD_MODULES if m in sys.modules])\n")
    assert out.strip() == "[]"


def test_it_runs_in_a_scenario_and_its_messages_are_dissected_and_explained(
        tmp_path: Path) -> None:
    path = tmp_path / "quotes.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    scenario = load(str(path))
    assert scenario.clients[0].server == "qotd"  # the default server fits its kind

    async def go() -> None:
        from lab.engine import Engine
        from lab.scenario_run import run

        engine = Engine()
        try:
            [result] = await run(scenario, engine)
        finally:
            await engine.shutdown()
        assert all(check.passed for check in result.checks), result.checks
        messages = [m for m in result.messages if m.protocol == "qotd"]
        assert [m.summary for m in messages] == [
            "asks for quote 2", "quote: Simple is better than complex."]
        ask, reply = messages
        assert explain(ask).meaning == "The client asks for a quote of the day."
        assert explain(reply).meaning == "Here is the quote: Simple is better than complex."

    asyncio.run(go())
