"""``cslab run`` that takes longer than its ``--timeout``: one line on stderr naming
the step that was running and the limit, exit 1 (a failed run), no traceback; and a
bad ``--timeout`` is one line and exit 2. The real ``cslab`` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSLAB = (sys.executable, "-m", "lab.cli")  # the cslab of this checkout
#: Far more than any run here needs: a hang fails the test, a busy machine does not.
DEADLINE = 60.0

SLOW = """[scenario]
title = "slow"
[[server]]
kind = "http"
port = 0
[[client]]
kind = "http"
[[step]]
client = "http"
action = "get /"
[[step]]
client = "http"
action = "get /index.html"
faults = { latency = 30000 }
"""


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CSLAB, "run", *map(str, args)], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=DEADLINE)


def test_a_run_over_its_timeout_names_the_step_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "slow.toml"
    path.write_text(SLOW)
    done = run(path, "--timeout", "3")
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    assert done.stderr.splitlines() == [
        f"cslab: {path}: the run took longer than 3 s: stopped in step 2, "
        "http: get /index.html (--timeout gives it longer)"], done.stderr
    assert done.returncode == 1
    assert "── step 1: http: get /" in done.stdout  # the steps before were printed


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_timeout_is_one_line(value: str, tmp_path: Path) -> None:
    path = tmp_path / "slow.toml"
    path.write_text(SLOW)
    done = run(path, "--timeout", value)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cslab: ") and "--timeout" in lines[0], lines
    assert done.returncode == 2
