"""The server panel's "Share on the network" switch and the window's share banner."""

from __future__ import annotations

import segno
from PySide6.QtGui import QColor

from lab import lan
from tests.ui.helpers import no_dialogs
from tests.ui.test_mainwindow import add_running_server
from ui.mainwindow import MainWindow
from ui.views import qr

WAIT = 15000


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
    # the row is greyed while its command runs: enabled once it is done
    qtbot.waitUntil(panel.share.interfaces.isEnabled, timeout=WAIT)
    hosts = [face.address for face in lan.interfaces() if not face.loopback]
    text = window.share_banner.text()
    assert panel.info.name in text
    assert all(f"{host}:{port}" in text for host in hosts)
    # what is open to whom: the networks that reach it, what anyone may do, the caps
    networks = [face.network for face in lan.interfaces() if not face.loopback]
    assert all(network in text for network in networks) and "open to machines on" in text
    assert "send bytes and get them back" in text
    assert f"at most {lan.SHARED_PER_CLIENT} connections from one address" in text
    if hosts:  # a QR code of the first address, for phones; a click shows it larger
        address = f"{hosts[0]}:{port}"
        assert list(window.share_banner.qr) == [address]
        button = window.share_banner.qr[address]
        assert address in button.toolTip() and not button.pixmap.isNull()
        assert button.pixmap.toImage() == qr.image(address, qr.SMALL)
        dialog = button.show_large()
        assert dialog.isVisible() and dialog.windowTitle() == address
        dialog.close()

    panel.share.switch.setChecked(False)
    qtbot.waitUntil(lambda: panel.info.address == f"127.0.0.1:{port}", timeout=WAIT)
    qtbot.waitUntil(window.share_banner.isHidden, timeout=WAIT)
    assert no_dialogs()


def test_the_qr_image_paints_segnos_matrix_with_a_quiet_zone() -> None:
    url = "http://192.168.1.20:8080/"
    code = segno.make(url, error="m", micro=False)
    modules = qr.matrix(url)
    side = len(code.matrix) + 2 * qr.QUIET
    assert len(modules) == side and all(len(row) == side for row in modules)
    assert not any(modules[0]) and not any(row[0] for row in modules)  # quiet zone
    image = qr.image(url, 200)
    per = image.width() // side
    assert image.width() == image.height() == side * per and per == 200 // side
    black = QColor("black").rgb()
    for y, row in enumerate(code.matrix):
        for x, dark in enumerate(row):
            pixel = image.pixel((x + qr.QUIET) * per + per // 2, (y + qr.QUIET) * per + per // 2)
            assert (pixel == black) == bool(dark), (x, y)
