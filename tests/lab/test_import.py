"""The engine imports no Qt: every headless command starts without it."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import lab, lab.engine, lab.cli, lab.scenario_cli, lab.wire, lab.capture, lab.servers, lab.clients
import lab.wire.board, lab.wire.layers.ftp
from lab.servers import server_kinds
from lab.clients import client_kinds
server_kinds(); client_kinds()
lab.cli.build_parser()
qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'shiboken6', 'ui'))
print(json.dumps(qt))
"""


def test_importing_the_engine_loads_no_qt() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_cli_help_runs_without_qt() -> None:
    probe = (
        "import sys, runpy, contextlib, io\n"
        "sys.argv = ['cslab', 'serve', '--help']\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    runpy.run_module('lab.cli', run_name='__main__')\n"
        "print('PySide6' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
