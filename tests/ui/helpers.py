"""Small helpers the UI tests share: adding a panel through the window's toolbar,
and checking that no message box is up."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox

from lab.model import NodeState
from ui.mainwindow import MainWindow

WAIT = 15000


def add_panel(window: MainWindow, qtbot, role: str, kind: str, cls: type,  # type: ignore[no-untyped-def]
              timeout: int = WAIT):
    """Add a ``kind`` server or client (``role``) from the toolbar and return its panel,
    an instance of ``cls``; a server's once it runs. Each wait gives up after ``timeout`` ms."""
    actions = window.server_actions if role == "server" else window.client_actions
    column = window.servers if role == "server" else window.clients
    actions[kind].trigger()
    qtbot.waitUntil(lambda: any(isinstance(p, cls) for p in column.panels()), timeout=timeout)
    panel = next(p for p in column.panels() if isinstance(p, cls))
    if role == "server":
        qtbot.waitUntil(lambda: panel.info.state is NodeState.RUNNING, timeout=timeout)
    else:  # a user types once the panel shows its client's settings (its first state)
        qtbot.waitUntil(lambda: panel.state is not None, timeout=timeout)
    return panel


def click(qtbot, button: QAbstractButton, timeout: int = WAIT) -> None:  # type: ignore[no-untyped-def]
    """Click ``button`` as a user would: once it is enabled again. A panel disables its
    Start/Stop button while a command is out, and the node's new state can reach the
    panel (from the bridge) before the command's answer re-enables the button; a click
    on a disabled button is lost."""
    qtbot.waitUntil(button.isEnabled, timeout=timeout)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def no_dialogs() -> bool:
    """True when no message box is showing (errors belong inline, in the panels)."""
    return not any(isinstance(w, QMessageBox) and w.isVisible()
                   for w in QApplication.topLevelWidgets())
