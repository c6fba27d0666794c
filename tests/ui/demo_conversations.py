"""An HTTP, an SMTP and an FTP conversation through the window's own panels.

For screenshots and for tests that want a diagram with real traffic in it:

    await conversations(window, scratch_folder)   # on the window's qasync loop

starts an HTTP, an SMTP and an FTP server from the toolbar's actions, adds a
browser, a request composer, a mail composer and an FTP client, and has each
say a few things (a page with its CSS and images, a POST, a mail, a login, a
listing and a download). From a test, run it with ``spawn`` and
``qtbot.waitUntil(task.done)``. As a program it opens the lab, plays the
conversations, selects a message, and stays open (for ``screenshot``):

    python -m tests.ui.demo_conversations [--select SUMMARY] [--look dark] [--quit-after S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from lab.model import NodeState
from ui.mainwindow import MainWindow
from ui.panels import NodePanel
from ui.panels.ftp_client import FtpClientPanel
from ui.panels.http_browser import HttpBrowserPanel
from ui.panels.http_composer import HttpComposerPanel
from ui.panels.mail_composer import MailComposerPanel

WAIT_S = 10.0


async def wait_for(condition: Callable[[], object], timeout: float = WAIT_S) -> None:
    """Poll ``condition`` on the loop until it holds; TimeoutError after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"still waiting for {condition}")
        await asyncio.sleep(0.02)


async def server(window: MainWindow, kind: str) -> NodePanel:
    """A running server of ``kind``, added from the toolbar's action."""
    panel = await window.add_server(kind)
    assert panel is not None, f"no {kind} server"
    await wait_for(lambda: panel.info.state is NodeState.RUNNING)
    return panel


async def client(window: MainWindow, kind: str) -> NodePanel:
    panel = await window.add_client(kind)
    assert panel is not None, f"no {kind} client"
    return panel


async def http_conversation(window: MainWindow) -> None:
    """A browser loads the sample site's page (its CSS and images follow); a request
    composer POSTs a note to the server's JSON API."""
    site = await server(window, "http")
    browser = await client(window, "browser")
    assert isinstance(browser, HttpBrowserPanel)
    await browser.load(f"http://{site.info.address}/")
    composer = await client(window, "http")
    assert isinstance(composer, HttpComposerPanel)
    composer.url_combo.setEditText(f"http://{site.info.address}/api/notes")
    composer.method_combo.setEditText("POST")
    composer.mode_combo.setCurrentText("JSON")
    composer.body_edit.setPlainText('{"title": "Hello", "body": "from the demo"}')
    result = await composer.send()
    assert result is not None and result.status == 201, result


async def smtp_conversation(window: MainWindow) -> None:
    """A mail composer sends one mail to ann@lab.test."""
    await server(window, "smtp")
    composer = await client(window, "smtp")
    assert isinstance(composer, MailComposerPanel)
    composer.to_edit.setText("ann@lab.test")
    composer.subject_edit.setText("Lunch at noon?")
    composer.body_edit.setPlainText("Hi Ann,\n\nshall we meet at noon?\n")
    await wait_for(lambda: bool(composer.server_combo.address()))
    result = await composer.send()
    assert result is not None and result.ok, composer.result_text()


async def ftp_conversation(window: MainWindow, folder: Path) -> None:
    """An FTP client logs in, lists the served folder and downloads a file into
    ``folder`` (a control connection and two data connections)."""
    await server(window, "ftp")
    files = await client(window, "ftp")
    assert isinstance(files, FtpClientPanel)
    await wait_for(lambda: bool(files.server_combo.address()))
    assert await files.log_in(), files.error_text
    await files.download("README.txt", folder)


async def conversations(window: MainWindow, folder: Path) -> None:
    """All three, one after the other; returns once their messages are in the window."""
    await http_conversation(window)
    await smtp_conversation(window)
    await ftp_conversation(window, folder)
    captured = window.lab.engine.capture.messages  # all of them reach the model
    await wait_for(lambda: window.model.rowCount() >= len(captured))


def select(window: MainWindow, summary: str) -> bool:
    """Select the first message whose summary starts with ``summary``."""
    model = window.model
    for row in range(model.rowCount()):
        if model.message(row).summary.startswith(summary):
            return window.inspector.select_message(model.message(row).id)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ui.demo_conversations",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--select", default="GET /style.css",
                        help="select the first message starting with this ('' for none)")
    parser.add_argument("--look", choices=["light", "dark", "high-contrast", "system"],
                        default="", help="apply this look (ui.theme) over the remembered one")
    parser.add_argument("--present", action="store_true",
                        help="switch presentation mode on once the conversations are over")
    parser.add_argument("--zoom", type=int, default=0,
                        help="zoom to this percentage (after --present, the presentation zoom)")
    parser.add_argument("--quit-after", type=float, default=0.0,
                        help="close the window after this many seconds (0: stay open)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="cslab-demo-"))
    os.environ["CSLAB_DATA_DIR"] = str(scratch / "data")
    (scratch / "downloads").mkdir()

    async def play(window: MainWindow, app: QApplication) -> None:
        await conversations(window, scratch / "downloads")
        if args.select:
            select(window, args.select)
        if args.present:
            window.view.presentation.enter()
        if args.zoom:
            window.view.presentation.set_zoom(args.zoom)
        if args.quit_after:
            await asyncio.sleep(args.quit_after)
            app.quit()

    return run_window(scratch, args.look, play)


def run_window(scratch: Path, look: str,
               play: Callable[[MainWindow, QApplication], Coroutine[Any, Any, None]]) -> int:
    """Open the lab's window (settings kept in ``scratch``, ``look`` over the remembered
    one), run ``play(window, app)`` on its loop until the app quits, then shut down."""
    import qasync
    from PySide6.QtCore import QSettings

    from ui.app import shutdown
    from ui.bridge import EngineBridge
    from ui.engine_thread import EngineThread, spawn

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    lab = EngineThread()
    bridge = EngineBridge(lab.engine.capture)
    lab.start()
    settings = QSettings(str(scratch / "cslab.ini"), QSettings.Format.IniFormat)
    window = MainWindow(lab, bridge, server_port=0, settings=settings)
    if look:  # after the window, which applies the look it remembers
        from ui import theme
        theme.apply(app, theme.Look(look))
    window.show()
    spawn(play(window, app))
    try:
        loop.run_forever()
    finally:
        shutdown(window, bridge, lab)
        asyncio.set_event_loop(None)
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
