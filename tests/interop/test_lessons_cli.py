"""cslab run and cslab lessons as real processes: every built-in lesson runs headless
and all its expectations hold; a failed expectation exits 1, an invalid scenario 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.scenario import lessons, lessons_dir

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted(lessons_dir().glob("*.toml"))


def cslab(tmp_path: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CSLAB_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], cwd=ROOT, env=env,
                          text=True, capture_output=True, timeout=timeout, check=False)


def test_there_are_lessons_for_the_protocols_that_exist() -> None:
    numbers = {path.name[:2] for path in LESSONS}
    assert {"01", "02", "03", "04", "05", "06", "07", "08", "09", "10"} <= numbers
    assert all(not title.startswith("(invalid)") for title, _ in lessons())


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_each_lesson_runs_headless_and_its_expectations_hold(
        lesson: Path, tmp_path: Path) -> None:
    done = cslab(tmp_path, "run", str(lesson))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all held" in done.stdout
    assert "✗" not in done.stdout
    assert "» " in done.stdout  # the presenter's text is printed


def test_run_takes_a_lesson_by_name_and_writes_the_capture(tmp_path: Path) -> None:
    capture, pcap = tmp_path / "c.jsonl", tmp_path / "c.pcapng"
    done = cslab(tmp_path, "run", "01-first-request", "--capture", str(capture),
                 "--pcap", str(pcap))
    assert done.returncode == 0, done.stderr
    assert "GET /no-such-page.html" in done.stdout
    assert "404 Not Found" in done.stdout
    records = [json.loads(line) for line in capture.read_text().splitlines()]
    assert any(r.get("summary") == "GET /index.html" for r in records)
    assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"


def test_a_failed_expectation_exits_1(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text((lessons_dir() / "01-first-request.toml").read_text()
                        .replace("expect = { status = 404 }", "expect = { status = 200 }"))
    done = cslab(tmp_path, "run", str(scenario))
    assert done.returncode == 1
    assert "✗ expect status = 200 (got 404)" in done.stdout
    assert "failed in step 3" in done.stdout


def test_step_mode_is_left_to_the_window_and_the_run_goes_on(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text((lessons_dir() / "01-first-request.toml").read_text()
                        .replace("[[step]]", "[wire]\nstep = true\n\n[[step]]", 1))
    done = cslab(tmp_path, "run", str(scenario))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "step mode is the window's" in done.stdout
    assert "all held" in done.stdout


def test_an_invalid_scenario_exits_2_naming_line_and_field(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text('[scenario]\ntitle = "x"\n\n[[server]]\nkind = "gopher"\n')
    done = cslab(tmp_path, "run", str(scenario))
    assert done.returncode == 2
    assert f"{scenario}:5: [[server]] #1 field 'kind'" in done.stderr
    assert cslab(tmp_path, "run", "no-such-lesson").returncode == 2


def test_lessons_lists_titles_and_files(tmp_path: Path) -> None:
    done = cslab(tmp_path, "lessons")
    assert done.returncode == 0
    assert "01-first-request" in done.stdout and "1. A first request" in done.stdout
