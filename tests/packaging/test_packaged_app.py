"""The PyInstaller app (packaging/cslab.spec), built for real and run for real: its
window opens offscreen and its HTTP server answers curl and http.client, from the
resources inside the bundle, not the source tree."""

from __future__ import annotations

import http.client
import os
import pkgutil
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.packaging.where import PACKAGING, RESOURCES, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BUILD_SECONDS = 600  # a bound, not an expectation: about 30 s on an idle 2-core machine
WAIT_SECONDS = 60
SITE_TITLE = "<title>Welcome to the Client-Server Lab</title>"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build dist/cslab/ with the project's spec into a temporary folder; its executable."""
    out = tmp_path_factory.mktemp("pyinstaller")
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(out / "dist"), "--workpath", str(out / "build"),
         str(PACKAGING / "cslab.spec")],
        capture_output=True, text=True, timeout=BUILD_SECONDS, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    exe = out / "dist" / "cslab" / "cslab"
    assert exe.is_file() and os.access(exe, os.X_OK)
    return exe


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    """The app's environment: offscreen, its data and settings in the test's folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", CSLAB_DATA_DIR=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), CSLAB_REPORT_SHOWN="1")
    return env


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start the built app; every process started is ended by its PID afterwards."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str], stderr: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=stderr.open("w"),
                                text=True, env=env, cwd=tmp_path)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(what: str, check: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert proc.poll() is None, f"the app exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT_SECONDS} s"
        time.sleep(0.2)


def _get(port: int, path: str) -> tuple[int, str] | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, body
    except (OSError, http.client.HTTPException):  # not listening yet
        return None


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def _every_kind_scenario(http_port: int) -> tuple[str, int]:
    """A scenario with a server of every kind (HTTP on ``http_port``, the rest on free
    ports) and a client of every scriptable kind; its text and its number of nodes."""
    from lab.clients import client_kinds
    from lab.scenario import ACTIONS
    from lab.servers import server_kinds

    lines = ['[scenario]', 'title = "Every kind"', '']
    servers = sorted(server_kinds())
    for kind in servers:
        port = http_port if kind == "http" else 0
        lines += ['[[server]]', f'kind = "{kind}"', f'name = "{kind} server"', f'port = {port}', '']
    clients = sorted(set(ACTIONS) & set(client_kinds()))
    for kind in clients:
        lines += ['[[client]]', f'kind = "{kind}"', f'name = "{kind} client"', '']
    return "\n".join(lines), len(servers) + len(clients)


def test_built_gui_opens_its_window_and_panels_and_serves_a_page(
    app: Path, run_env: dict[str, str], started: Callable[..., subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    port = _free_port()
    scenario = tmp_path / "every-kind.toml"
    text, nodes = _every_kind_scenario(port)
    scenario.write_text(text)
    stderr = tmp_path / "stderr.txt"
    proc = started(str(app), "gui", str(scenario), env=run_env, stderr=stderr)

    _wait_for("window", lambda: "window shown" in stderr.read_text(), proc)
    # every panel's module loaded in the bundle: one panel a server and a client
    _wait_for(f"{nodes} panels", lambda: f"panels {nodes}\n" in stderr.read_text(), proc)
    answers: list[tuple[int, str] | None] = [None]

    def answered() -> bool:
        answers[0] = _get(port, "/index.html")
        return answers[0] is not None

    _wait_for(f"an answer on port {port}", answered, proc)
    assert answers[0] is not None
    status, body = answers[0]
    assert status == 200
    assert SITE_TITLE in body
    assert body == (RESOURCES / "site" / "index.html").read_text(encoding="utf-8")

    assert _stop(proc) == 0, stderr.read_text()
    assert "Traceback" not in stderr.read_text()
    with socket.socket() as s:  # closing the app freed the port
        s.bind(("127.0.0.1", port))


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_built_cli_serves_http_headless_to_curl(
    app: Path, run_env: dict[str, str], started: Callable[..., subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    stderr = tmp_path / "stderr.txt"
    proc = started(str(app), "serve", "http", "--port", "0", env=run_env, stderr=stderr)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    assert first.startswith("listening on 127.0.0.1:"), first + stderr.read_text()
    port = first.rsplit(":", 1)[1]
    page = subprocess.run(["curl", "-s", "-o", "-", "-w", "%{http_code}",
                           f"http://127.0.0.1:{port}/about.html"],
                          capture_output=True, text=True, timeout=60)
    assert page.stdout.endswith("200")
    assert page.stdout[:-3] == (RESOURCES / "site" / "about.html").read_text(encoding="utf-8")
    assert "GET /about.html" in proc.stdout.readline()
    assert _stop(proc) == 0, stderr.read_text()


def test_built_cli_lists_the_bundled_lessons(app: Path, run_env: dict[str, str],
                                             tmp_path: Path) -> None:
    result = subprocess.run([str(app), "lessons"], capture_output=True, text=True,
                            timeout=120, env=run_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1. A first request" in result.stdout
    lessons = sorted((RESOURCES / "lessons").glob("*.toml"))
    assert len(result.stdout.strip().splitlines()) == len(lessons)


def test_built_app_leaves_out_unused_qt(app: Path) -> None:
    bundle = app.parent / "_internal"
    names = {p.name for p in bundle.rglob("*")}
    for unused in ("QtQml.abi3.so", "QtQuick.abi3.so", "QtNetwork.abi3.so",
                   "QtTest.abi3.so", "libqgtk3.so", "_tkinter"):
        assert not any(n.startswith(unused) for n in names), unused
    assert (bundle / "resources" / "icons" / "cslab.svg").is_file()


def test_install_script_puts_the_built_app_and_its_menu_entry_in_home(
    app: Path, run_env: dict[str, str], tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**run_env, "HOME": str(home), "CSLAB_APP_DIR": str(app.parent)}
    env.pop("XDG_DATA_HOME", None)
    install = subprocess.run([str(PACKAGING / "install-desktop.sh")], capture_output=True,
                             text=True, timeout=120, env=env)
    assert install.returncode == 0, install.stdout + install.stderr
    share = home / ".local" / "share"
    assert (share / "applications" / "cslab.desktop").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "cslab.svg").is_file()
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "cslab.png").is_file()
    command = home / ".local" / "bin" / "cslab"
    result = subprocess.run([str(command), "lessons"], capture_output=True, text=True,
                            timeout=120, env=env, cwd=tmp_path)
    assert "1. A first request" in result.stdout, result.stderr


def test_bundle_holds_every_module_of_the_app(app: Path, run_env: dict[str, str],
                                              tmp_path: Path) -> None:
    import lab
    import ui

    modules = [info.name for package in (lab, ui)
               for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    result = subprocess.run([str(app)], capture_output=True, text=True, timeout=120,
                            env={**run_env, "CSLAB_BUNDLE_CHECK": "1"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"imported {len(modules)} modules"
