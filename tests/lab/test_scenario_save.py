"""lab/scenario_save.py: the lab's setup saved as a scenario that loads back and runs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lab.engine import Engine
from lab.scenario import load
from lab.scenario_save import quote, save
from tests.lab.helpers import run as run_bounded


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


def test_quote_escapes_what_toml_needs() -> None:
    tricky = 'say "hi"\\ \n\ttab \x01 é'
    assert tomllib.loads(f"x = {quote(tricky)}")["x"] == tricky


def test_a_saved_setup_loads_back_and_runs_headless(tmp_path: Path) -> None:
    site = tmp_path / 'my "site"'
    site.mkdir()
    (site / "index.html").write_text("<html>hi</html>")
    path = tmp_path / "saved.toml"

    async def main() -> None:
        engine = Engine()
        try:
            web = await engine.add_server("http", port=0, name="web",
                                          options={"root": str(site)})
            await engine.add_server("smtp", port=0, name="mail")
            echo = await engine.add_server("tcp-echo", port=0, name="echo")
            await engine.add_client("http", name="composer")
            nc = await engine.add_client("echo", name="nc")
            await engine.client_act(nc.id, "connect", settings={"server": echo.address})
            engine.wire_board.set_faults(web.id, latency=50.0, reset_at_message=3)
            save(engine, path, title='Saved "setup"')
        finally:
            await engine.shutdown()

    run_bounded(main)
    scenario = load(path)
    assert scenario.title == 'Saved "setup"' and scenario.goal
    assert [(s.kind, s.name, s.port) for s in scenario.servers] == [
        ("http", "web", 0), ("smtp", "mail", 0), ("tcp-echo", "echo", 0)]
    assert scenario.servers[0].options == {"root": str(site)}
    assert [(c.kind, c.name) for c in scenario.clients] == [("http", "composer"), ("echo", "nc")]
    assert scenario.clients[1].server == "echo"
    assert scenario.wire.faults == {"latency": 50.0, "reset_at_message": 3}
    assert scenario.wire.server == "web" and not scenario.wire.step
    assert scenario.steps == ()

    done = subprocess.run([sys.executable, "-m", "lab.cli", "run", str(path)],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_empty_lab_saves_a_scenario_with_no_servers(tmp_path: Path) -> None:
    async def main() -> Path:
        engine = Engine()
        engine.wire_board.set_step(None, True)
        try:
            return save(engine, tmp_path / "empty-lab.toml")
        finally:
            await engine.shutdown()

    scenario = load(run_bounded(main))
    assert scenario.title == "empty lab" and scenario.servers == () and scenario.wire.step


def test_option_names_are_bare_keys_when_they_can_be() -> None:
    from lab.scenario_save import key

    assert key("upload_limit") == "upload_limit" and key("a b") == '"a b"'


def test_a_lesson_saved_as_a_setup_keeps_its_clients_settings_but_not_its_fresh_folders(
        tmp_path: Path) -> None:
    from lab.scenario_run import Runner

    path = tmp_path / "lesson4.toml"

    async def main() -> None:
        engine = Engine()
        runner = Runner(load("04-mail"), engine)
        try:
            await runner.setup()
            save(engine, path)
        finally:
            await runner.teardown()
            await engine.shutdown()

    run_bounded(main)
    saved = load(str(path))
    assert all(not spec.options for spec in saved.servers), saved.servers
    bob = next(c for c in saved.clients if c.name == "Bob's mail program")
    assert bob.options == {"user": "bob"} and bob.server == "Mailbox server (POP3)"
    ann = next(c for c in saved.clients if c.name == "Ann's mail program")
    assert ann.options["subject"] == "Lesson 4"
