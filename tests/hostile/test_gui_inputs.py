"""``cslab gui FILE`` with bad and hostile files, and Ctrl+C, as a user meets them:
the real ``cslab`` in a subprocess, offscreen. A bad file is one line on stderr and
exit 2 before any window opens (the same checks as ``cslab export`` and ``cslab
run``); a valid file that is huge in one field opens, cut, and quits on SIGINT; and
SIGINT ends the app within a few seconds while it is busy (1,000 servers coming up,
a big capture being read). Every wait is on a condition, with a deadline."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.export import export
from tests.hostile.test_bad_inputs import (
    BAD_CAPTURES,
    BAD_SCENARIOS,
    DEADLINE,
    assert_refused,
    good_records,
    lines,
    write_bad_captures,
)

ROOT = Path(__file__).resolve().parents[2]
CSLAB = (sys.executable, "-m", "lab.cli")  # the cslab of this checkout
#: The most SIGINT may take to end the app, in seconds (the app gives itself 3 s to
#: close cleanly, then stops its servers and leaves; more here for a busy machine).
QUIT_DEADLINE = 8.0
#: What the offscreen platform says on stderr that is not the lab's.
QT_NOISE = ("This plugin does not support",)


def env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CSLAB_REPORT_SHOWN": "1"}


def gui(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``cslab gui ARGS``, which must end by itself within DEADLINE (a refusal)."""
    return subprocess.run([*CSLAB, "gui", *map(str, args)], cwd=ROOT, env=env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=DEADLINE)


class Running:
    """``cslab gui ARGS`` running; its stderr lines as they come, read by a thread."""

    def __init__(self, *args: str | Path) -> None:
        import threading

        self.proc = subprocess.Popen([*CSLAB, "gui", *map(str, args)], cwd=ROOT, env=env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, seen: Callable[[], bool], what: str, deadline: float = 180.0) -> None:
        end = time.monotonic() + deadline
        while not seen():
            assert self.proc.poll() is None, (what, self.lines[-20:])
            assert time.monotonic() < end, f"no {what} within {deadline:g} s: {self.lines[-20:]}"
            time.sleep(0.05)

    def interrupt(self) -> tuple[int, float]:
        """SIGINT; the exit code and how long the app took to end."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(QUIT_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {QUIT_DEADLINE:g} s after SIGINT: {self.lines[-20:]}")
        self._reader.join(5)
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def lab_lines(self) -> list[str]:
        """What the lab said on stderr, without its reports and the platform's noise."""
        return [line for line in self.lines if line and line != "window shown"
                and not line.startswith("panels ") and not line.startswith(QT_NOISE)]


def assert_quit(app: Running, *, forced_ok: bool) -> None:
    code, took = app.interrupt()
    print(f"SIGINT: exit {code} after {took:.1f} s")
    said = app.lab_lines()
    assert not any("Traceback" in line for line in app.lines), app.lines[-40:]
    if code == 0:
        assert said == [], said
    else:  # the Qt thread was still busy after 3 s: the lab stopped itself, and said so
        assert forced_ok, (code, said)
        assert code == 128 + signal.SIGINT, (code, said)
        assert len(said) == 1 and said[0].startswith("cslab: still busy"), said


# ---- bad files: one line, exit 2, no window ------------------------------------------

@pytest.fixture(scope="module")
def bad_captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_bad_captures(tmp_path_factory.mktemp("bad-gui"))


def assert_no_window(done: subprocess.CompletedProcess[str], *names: str,
                     says: tuple[str, ...] = ()) -> str:
    assert "window shown" not in done.stderr, done.stderr[-2000:]
    return assert_refused(done, *names, says=says)


@pytest.mark.parametrize("name", list(BAD_CAPTURES))
def test_a_bad_capture_is_one_line_before_any_window(name: str,
                                                     bad_captures: dict[str, Path]) -> None:
    path = bad_captures[name]
    assert_no_window(gui(path), str(path), says=BAD_CAPTURES[name][1])


@pytest.mark.parametrize("name", ["not-utf8", "random-bytes", "deep-arrays",
                                  "server-list-of-numbers", "zone-garbage", "latency-inf",
                                  "empty"])
def test_a_bad_scenario_is_one_line_before_any_window(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.toml"
    data, says = BAD_SCENARIOS[name]
    path.write_bytes(data)
    assert_no_window(gui(path), str(path), says=says)


def test_a_folder_a_fifo_a_device_and_a_missing_file_are_refused_unread(
        tmp_path: Path) -> None:
    for suffix in (".toml", ".jsonl", ".cslab", ""):
        fifo = tmp_path / f"pipe{suffix}"
        os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block for ever
        assert_no_window(gui(fifo), str(fifo), says=("a FIFO",))
    for path, says in ((tmp_path, "a folder"), (Path("/dev/zero"), "a device"),
                       (tmp_path / "missing.toml", "no such file"),
                       (tmp_path / "missing.cslab", "No such file")):
        assert_no_window(gui(path), str(path), says=(says,))


def test_a_scenario_over_16_mib_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge-title.toml"
    path.write_text('[scenario]\ntitle = "' + "x" * (50 << 20) + '"\n')
    assert_no_window(gui(path), str(path), says=("larger than",))


# ---- valid files huge in one field: they open, cut, and quit on Ctrl+C ---------------

def huge_node_name(folder: Path) -> Path:
    """A valid .cslab whose server node is named with 50 MB, and its connection's
    client address 1 MB long."""
    source = folder / "good.jsonl"
    source.write_bytes(lines(good_records()))
    path = folder / "huge-name.cslab"
    export(source, "cslab", path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO nodes VALUES ('n1', 'http', 'server', ?, '127.0.0.1:8080', '')",
                   ("N" * (50 << 20),))
        db.execute("UPDATE connections SET node = 'n1', client = ?", ("c" * (1 << 20),))
        db.execute("UPDATE messages SET node = 'n1'")
    db.close()
    return path


def huge_title(folder: Path) -> Path:
    """A valid scenario (just under 16 MiB) whose title is 15 MB long."""
    path = folder / "huge-title.toml"
    path.write_text('[scenario]\ntitle = "' + "T" * 15_000_000 + '"\n'
                    '[[server]]\nkind = "http"\nport = 0\n')
    return path


@pytest.mark.parametrize("build", [huge_node_name, huge_title])
def test_a_valid_file_huge_in_one_field_opens_and_quits(build: Callable[[Path], Path],
                                                        tmp_path: Path) -> None:
    app = Running(build(tmp_path))
    try:
        app.wait_for(lambda: "window shown" in app.lines, "window")
        assert_quit(app, forced_ok=False)
    finally:
        app.close()


# ---- Ctrl+C while busy ---------------------------------------------------------------

def test_sigint_ends_the_app_while_1000_servers_come_up(tmp_path: Path) -> None:
    path = tmp_path / "many.toml"
    path.write_text('[scenario]\ntitle = "many"\n' + "".join(
        f'[[server]]\nkind = "http"\nname = "s{n}"\nport = 0\n' for n in range(1000)))
    app = Running(path)
    try:
        app.wait_for(lambda: any(line.startswith("panels ") and int(line.split()[1]) > 1
                                 for line in app.lines), "server panels")
        assert_quit(app, forced_ok=True)
    finally:
        app.close()


def test_sigint_while_a_big_capture_is_read_is_one_line(tmp_path: Path) -> None:
    records = good_records()
    message = next(r for r in records if r["type"] == "message")
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as stream:
        stream.write(lines([r for r in records if r["type"] == "open"]))
        stream.write(lines([{**message, "id": n} for n in range(1, 400_001)]))
    proc = subprocess.Popen([*CSLAB, "gui", str(path)], cwd=ROOT, env=env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    try:
        fds = Path(f"/proc/{proc.pid}/fd")
        end = time.monotonic() + DEADLINE
        while str(path) not in _open_files(fds):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "the capture was never opened"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=QUIT_DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err[-3000:]
    assert err.splitlines() == [f"cslab: interrupted while reading {path}"], err[-3000:]
    assert proc.returncode == 130


def _open_files(fds: Path) -> set[str]:
    """The files a process has open (those it closes meanwhile left out)."""
    found = set()
    try:
        for fd in fds.iterdir():
            try:
                found.add(os.readlink(fd))
            except OSError:
                continue
    except OSError:
        pass
    return found
