"""lab/scenario_run.py: a scenario's steps run on a real Engine on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.engine import Engine
from lab.model import Sender
from lab.scenario import load, parse
from lab.scenario_run import Runner, StepResult, is_fresh_data, run
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
            engine.wire_board.set_step(None, True)

            async def presenter() -> None:
                while not engine.wire_board.held():  # the request waits at the Wire…
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.6)  # …longer than the step timeout
                engine.wire_board.set_step(None, False)  # step mode off forwards it

            waiting = asyncio.ensure_future(presenter())
            results = await run(scenario, engine, lambda r: None)
            await waiting
            return results
        finally:
            engine.wire_board.set_step(None, False)
            await engine.shutdown()

    (only,) = run_bounded(main)
    assert only.passed and only.outcome.values["status"] == 200


def _lesson_runs(name: str, times: int) -> list[tuple[list[StepResult], Path | None]]:
    """Lesson ``name`` set up, run and taken down ``times`` times on one Engine: each
    run's results and its data folder (which teardown removed)."""
    scenario = load(name)

    async def main() -> list[tuple[list[StepResult], Path | None]]:
        engine = Engine()
        out: list[tuple[list[StepResult], Path | None]] = []
        try:
            for _ in range(times):
                runner = Runner(scenario, engine)
                await runner.setup()
                folder = runner.data_folder
                assert folder is not None and folder.is_dir()
                results = [await runner.step(i) for i in range(len(scenario.steps))]
                await runner.teardown()
                out.append((results, folder))
        finally:
            await engine.shutdown()
        return out

    return run_bounded(main, timeout=60.0)


def test_each_run_of_lesson_4_has_fresh_mail_and_runs_each_step_once(
        tmp_path: Path) -> None:
    runs = _lesson_runs("04-mail", 2)
    for results, folder in runs:
        assert all(r.passed for r in results), [str(c) for r in results for c in r.checks]
        send, listing, _ = results
        # Mail does not pile up across runs: the mailbox holds this run's message.
        assert listing.outcome.shown.startswith("1 message(s)"), listing.outcome.shown
        # The step ran its action once: one LIST, one mail sent.
        commands = [m.summary.split()[0].upper() for m in listing.messages
                    if m.sender is Sender.CLIENT and m.summary]
        assert commands.count("LIST") == 1, commands
        assert [m.summary.split()[0].upper() for m in send.messages
                if m.sender is Sender.CLIENT].count("DATA") == 1
        assert folder is not None and not folder.exists()  # teardown removed it
    assert runs[0][1] != runs[1][1]
    assert not (tmp_path / "mail").exists()  # the data dir's mail is not touched


def test_a_run_gets_the_ftp_sample_files_and_a_fresh_notes_database() -> None:
    scenario = parse(SCENARIO + """
[[server]]
kind = "ftp"
name = "files"
port = 0
""", "test.toml")

    async def main() -> dict[str, dict[str, str]]:
        engine = Engine()
        runner = Runner(scenario, engine)
        try:
            await runner.setup()
            folder = runner.data_folder
            assert folder is not None
            assert (folder / "ftp" / "README.txt").is_file()  # the sample files, copied
            options = {name: engine.server_setup(node)[1]
                       for name, node in runner.server_ids.items()}
            await runner.teardown()
            assert not folder.exists()
            return options
        finally:
            await engine.shutdown()

    options = run_bounded(main)
    assert Path(options["web"]["db"]).name == "notes.sqlite3"
    assert is_fresh_data(options["web"]["db"]) and is_fresh_data(options["files"]["root"])
    assert "root" not in options["web"]  # the site is only read: the sample one
    assert Path(options["files"]["root"]).name == "ftp"
    assert options["echo"] == {}


def test_a_folder_the_lesson_names_is_kept(tmp_path: Path) -> None:
    mine = tmp_path / "my-ftp"
    scenario = parse(f"""
[scenario]
title = "Named folder"

[[server]]
kind = "ftp"
name = "files"
port = 0
options = {{ root = "{mine}" }}
""", "test.toml")

    async def main() -> tuple[Path | None, dict[str, str]]:
        engine = Engine()
        runner = Runner(scenario, engine)
        try:
            await runner.setup()
            found = runner.data_folder, engine.server_setup(runner.server_ids["files"])[1]
            await runner.teardown()
            return found
        finally:
            await engine.shutdown()

    folder, options = run_bounded(main)
    assert folder is None and options["root"] == str(mine) and mine.is_dir()
    assert not is_fresh_data(options["root"])
