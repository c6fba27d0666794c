"""``cslab serve … --students N``: the passwords to hand out are printed at start, the
same ones the server takes (and the same each time on this machine), and a kind
without logins says it takes no --students."""

from __future__ import annotations

import os
import poplib
import subprocess
import sys
from pathlib import Path

from lab.servers.students import student_passwords
from tests.interop.test_cli import ROOT


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int, Path]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CSLAB_DATA_DIR": str(tmp_path / "data")}
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "serve", *args],
                                cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("listening on "), (first, errors.read_text())
    return proc, int(first.rpartition(":")[2]), errors


def test_serve_pop3_with_students_prints_passwords_that_open_their_own_mailboxes(
        tmp_path: Path) -> None:
    proc, port, errors = _serve(tmp_path, "pop3", "--port", "0", "--root",
                                str(tmp_path / "mail"), "--students", "2", "-q")
    try:
        printed = dict(line.removeprefix("student password: ").split(" ", 1)
                       for line in errors.read_text().splitlines()
                       if line.startswith("student password: "))
        assert printed == student_passwords(2, "mail", tmp_path / "data")
        client = poplib.POP3("127.0.0.1", port, timeout=10)
        client.user("student2")
        assert client.pass_(printed["student2"]).startswith(b"+OK")
        client.quit()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_students_is_refused_for_a_kind_without_logins(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "lab.cli", "serve", "http", "--port", "0",
                           "--students", "3"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "CSLAB_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip() == "cslab: --students is for smtp, pop3, ftp, not http"
    bad = subprocess.run([sys.executable, "-m", "lab.cli", "serve", "pop3", "--students",
                          "99"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--students: must be a whole number from 1 to 60" in bad.stderr
