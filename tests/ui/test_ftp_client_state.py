"""The FTP client panel shows the client's state as the engine publishes it: a
lesson's steps (run through engine.client_act, as the lesson runner does) show in
the panel as a click would, and the fields show the client's settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.clients.ftp import Entry
from lab.clients.ftp_actions import FtpView
from lab.engine import Engine
from lab.model import NodeInfo
from lab.scenario import lessons_dir, load
from lab.scenario_run import Runner, StepResult
from tests.ui.helpers import click
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.panels.ftp_client import FtpClientPanel
from ui.panels.ftp_listing import STEPS

WAIT = 15000


def ftp_panel(window: MainWindow, name: str) -> FtpClientPanel | None:
    return next((p for p in window.clients.panels()
                 if isinstance(p, FtpClientPanel) and p.info.name == name), None)


def on_engine(window: MainWindow, qtbot: Any, fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` on the engine's loop (as a lesson does) and return its result."""
    task = spawn(window.lab.call(fn, *args))
    qtbot.waitUntil(task.done, timeout=WAIT)
    return task.result()


def test_lesson_5_steps_show_in_the_panels(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    runner = Runner(load(lessons_dir() / "05-ftp.toml"), window.lab.engine)

    async def step(index: int) -> StepResult:
        return await runner.step(index)

    try:
        on_engine(window, qtbot, runner.setup)
        qtbot.waitUntil(lambda: ftp_panel(window, "Active client") is not None
                        and ftp_panel(window, "Passive client") is not None, timeout=WAIT)
        passive = ftp_panel(window, "Passive client")
        active = ftp_panel(window, "Active client")
        assert passive is not None and active is not None
        qtbot.waitUntil(lambda: active.user_edit.text() == "anonymous", timeout=WAIT)
        assert active.password_edit.text() == "guest@lab.test"
        assert not active.passive_box.isChecked() and passive.passive_box.isChecked()
        assert active.server_combo.address() == runner.addresses["FTP server"]

        results = [on_engine(window, qtbot, step, i) for i in range(3)]
        assert all(r.passed for r in results), [str(c) for r in results for c in r.checks]

        qtbot.waitUntil(lambda: "README.txt" in passive.model.names()
                        and passive.transfer_row.isVisible()
                        and "Downloaded README.txt" in passive.transfer_row.note.text(),
                        timeout=WAIT)
        assert "README.txt" in passive.transfer_label.text()
        assert passive.progress_bar.value() == STEPS
        assert passive.connected and passive.connect_button.text() == "Disconnect"
        assert "passive mode" in passive.status_label.text()

        qtbot.waitUntil(lambda: "README.txt" in active.model.names(), timeout=WAIT)
        assert "active mode" in active.status_label.text()
        assert active.user_edit.text() == "anonymous" and not active.passive_box.isChecked()
        assert active.transfer_row.isHidden() and not active.error_text
    finally:
        on_engine(window, qtbot, runner.teardown)


def test_fields_show_settings_and_connect_sends_them(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    engine: Engine = window.lab.engine

    async def add_server() -> NodeInfo:
        return await engine.add_server("ftp", port=0, options={"root": str(tmp_path)})

    server = on_engine(window, qtbot, add_server)

    async def add() -> str:
        return (await engine.add_client("ftp", settings={
            "server": server.address, "user": "anonymous", "password": "me@lab.test",
            "passive": False})).id

    node = on_engine(window, qtbot, add)
    qtbot.waitUntil(lambda: any(isinstance(p, FtpClientPanel) for p in window.clients.panels()),
                    timeout=WAIT)
    panel = next(p for p in window.clients.panels() if isinstance(p, FtpClientPanel))
    qtbot.waitUntil(lambda: panel.user_edit.text() == "anonymous", timeout=WAIT)
    assert panel.password_edit.text() == "me@lab.test"
    assert panel.server_combo.address() == server.address
    assert not panel.passive_box.isChecked()

    click(qtbot, panel.connect_button)
    qtbot.waitUntil(lambda: panel.model.names() == ["hello.txt"], timeout=WAIT)
    view = engine.client_state(node).view
    assert isinstance(view, FtpView) and view.mode == "active"
    assert "active mode" in panel.status_label.text()
    commands = {m.summary.split()[0] for m in engine.capture.messages
                if m.protocol == "ftp" and m.summary[:1].isalpha()}
    assert {"USER", "PASS"} <= commands and commands & {"PORT", "EPRT"}
    assert not commands & {"EPSV", "PASV"}

    # a setting changed by the engine (a lesson, another window) shows in the field
    async def configure() -> None:
        await engine.configure_client(node, user="student")

    on_engine(window, qtbot, configure)
    qtbot.waitUntil(lambda: panel.user_edit.text() == "student", timeout=WAIT)
    click(qtbot, panel.connect_button)  # Disconnect
    qtbot.waitUntil(lambda: not panel.connected and panel.model.rowCount() == 0,
                    timeout=WAIT)
    assert panel.status_label.text() == "Not connected."


def test_a_transfer_under_way_shows_its_progress_and_cancel(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    window.client_actions["ftp"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(p, FtpClientPanel) for p in window.clients.panels()),
                    timeout=WAIT)
    panel = next(p for p in window.clients.panels() if isinstance(p, FtpClientPanel))
    qtbot.waitUntil(lambda: panel.state is not None, timeout=WAIT)
    base = panel.state
    entries = (Entry("big.bin", "file", 4096, ""),)

    def show(revision: int, view: FtpView, busy: str = "") -> None:
        panel.update_state(replace(base, revision=revision, busy=busy, view=view))

    running = FtpView(connected=True, mode="passive", entries=entries,
                      transfer="download big.bin", done=1024, total=4096)
    show(base.revision + 1, running, busy="retr big.bin")
    assert not panel.transfer_row.isHidden() and panel.cancel_button.isEnabled()
    assert panel.progress_bar.value() == STEPS // 4
    assert "big.bin" in panel.transfer_label.text()
    assert "1.0 kB of 4.0 kB" in panel.transfer_row.note.text()
    assert not panel.download_button.isEnabled() and not panel.upload_button.isEnabled()
    show(base.revision + 2, replace(running, result="cancelled"))
    assert not panel.cancel_button.isEnabled() and panel.upload_button.isEnabled()
    assert "not downloaded: cancelled" in panel.transfer_row.note.text()
    show(base.revision + 1, replace(running, done=2048))  # older: not shown
    assert "cancelled" in panel.transfer_row.note.text()
