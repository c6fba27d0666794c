"""The real ``cslab gui`` on a virtual X display (xcb, not offscreen): it starts,
its window appears, it stays up, and SIGTERM closes it cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run")

UP_SECONDS = 4

# Runs inside xvfb-run: start the app, check it is alive and its window is mapped,
# then ask it to quit with SIGTERM and report how it exited.
INNER = textwrap.dedent(f"""\
    #!/usr/bin/env bash
    unset QT_QPA_PLATFORM
    export CSLAB_REPORT_SHOWN=1
    "$@" &
    app=$!
    sleep {UP_SECONDS}
    if kill -0 $app 2>/dev/null; then echo "alive"; else echo "died"; fi
    if command -v xwininfo >/dev/null; then
        xwininfo -root -tree | grep -c '"Client-Server Lab"' | sed 's/^/windows /'
    fi
    kill -TERM $app 2>/dev/null
    wait $app
    echo "exit $?"
""")


def test_cslab_gui_shows_its_window_and_quits_cleanly(tmp_path: Path) -> None:
    inner = tmp_path / "inner.sh"
    inner.write_text(INNER)
    inner.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", str(inner),
         sys.executable, "-m", "lab.cli", "gui"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    report = result.stdout.split()
    assert "alive" in result.stdout, result.stdout + result.stderr
    assert "window shown" in result.stderr, result.stderr
    if "windows" in report:
        assert int(report[report.index("windows") + 1]) >= 1, result.stdout
    assert "exit 0" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
