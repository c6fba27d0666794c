"""The server panel's "Share on the network" switch and the window's share banner."""

from __future__ import annotations

from lab import lan
from tests.ui.helpers import no_dialogs
from tests.ui.test_mainwindow import add_running_server
from ui.mainwindow import MainWindow

WAIT = 8000


def test_sharing_a_server_shows_the_banner_until_it_is_unshared(
        window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = add_running_server(window, qtbot, "tcp-echo")
    port = panel.info.address.rpartition(":")[2]
    assert not panel.share.switch.isChecked() and not panel.share.interfaces.isEnabled()
    assert window.share_banner.isHidden()
    assert panel.share.interfaces.itemData(0) == lan.ALL_INTERFACES

    panel.share.switch.setChecked(True)
    qtbot.waitUntil(lambda: panel.info.address == f"0.0.0.0:{port}", timeout=WAIT)
    qtbot.waitUntil(lambda: not window.share_banner.isHidden(), timeout=WAIT)
    assert panel.share.interfaces.isEnabled()
    hosts = [face.address for face in lan.interfaces() if not face.loopback]
    text = window.share_banner.text()
    assert panel.info.name in text
    assert all(f"{host}:{port}" in text for host in hosts)

    panel.share.switch.setChecked(False)
    qtbot.waitUntil(lambda: panel.info.address == f"127.0.0.1:{port}", timeout=WAIT)
    qtbot.waitUntil(window.share_banner.isHidden, timeout=WAIT)
    assert no_dialogs()
