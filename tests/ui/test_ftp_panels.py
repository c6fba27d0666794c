"""The FTP panels through the window's own actions: an FTP server on a folder chosen
from its panel, the file client connecting to it, listing, downloading (the progress
bar moving) and uploading; the inspector shows each data connection under its
control connection, and a filter on the control connection keeps them together."""

from __future__ import annotations

import ftplib
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from lab.clients.ftp import Entry
from lab.model import NodeState
from lab.servers.students import student_passwords
from tests.ui.helpers import add_panel, click, no_dialogs
from ui.mainwindow import MainWindow
from ui.models.messages import COL_CONN, MESSAGE_ROLE, MessageTableModel
from ui.panels.ftp_client import FtpClientPanel
from ui.panels.ftp_listing import ListingModel
from ui.panels.ftp_server import FtpServerPanel

WAIT = 10000
BIG = "big.bin"
SIZE = 2 * 1024 * 1024


def data_rows(model: MessageTableModel) -> list[tuple[str, str]]:
    """(Connection column, summary) of every ftp-data message."""
    return [(str(model.index(r, COL_CONN).data()), model.message(r).summary)
            for r in range(model.rowCount()) if model.message(r).protocol == "ftp-data"]


def test_listing_puts_folders_first_with_a_slash(qapp, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = ListingModel()
    model.set_rows([Entry("b.txt", "file", 2048, "2026-01-01 10:00"),
                    Entry("Zeta", "dir", 0, "2026-01-01 10:00"),
                    Entry("a.txt", "file", 5, "2026-01-01 10:00")])
    qtmodeltester.check(model)
    assert [model.index(r, 0).data() for r in range(3)] == ["Zeta/", "a.txt", "b.txt"]
    assert [model.index(r, 1).data() for r in range(3)] == ["", "5 bytes", "2.0 kB"]


def test_ftp_client_downloads_and_uploads_through_the_wire(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, qtmodeltester, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    root = tmp_path / "served"
    (root / "docs").mkdir(parents=True)
    payload = os.urandom(SIZE)
    (root / BIG).write_bytes(payload)
    local = tmp_path / "local"
    local.mkdir()
    upload = local / "hello.txt"
    upload.write_text("hello over FTP\n" * 100)

    server = add_panel(window, qtbot, "server", "ftp", FtpServerPanel, timeout=WAIT)
    assert server.user_edit.text() == "student" and server.password_edit.text() == "lab"
    address = server.info.address
    monkeypatch.setattr("ui.panels.ftp_server.QFileDialog.getExistingDirectory",
                        lambda *args, **kwargs: str(root))
    click(qtbot, server.choose_button)
    qtbot.waitUntil(lambda: server.facts.get("root") == str(root), timeout=WAIT)
    qtbot.waitUntil(lambda: server.info.state is NodeState.RUNNING, timeout=WAIT)
    assert server.info.address == address and "served" in server.folder_label.text()

    client = add_panel(window, qtbot, "client", "ftp", FtpClientPanel, timeout=WAIT)
    qtbot.waitUntil(lambda: client.server_combo.address() == address, timeout=WAIT)
    qtbot.waitUntil(lambda: client.user_edit.text() == "student", timeout=WAIT)
    assert client.passive_box.isChecked() and client.password_edit.text() == "lab"
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: client.model.names() == ["docs", BIG], timeout=WAIT)
    assert client.connected and client.connect_button.text() == "Disconnect"
    assert not client.error_text and client.cwd == "/"
    qtmodeltester.check(client.model)
    assert client.model.index(0, 0).data() == "docs/"

    # download: the transfer row shows it (progress states come at most ~10 a second,
    # so a fast transfer may show only its end)
    values: list[int] = []
    client.progress_bar.valueChanged.connect(values.append)
    monkeypatch.setattr("ui.panels.ftp_client.QFileDialog.getExistingDirectory",
                        lambda *args, **kwargs: str(local))
    client.table.selectRow(1)
    assert client.download_button.isEnabled()
    click(qtbot, client.download_button)
    qtbot.waitUntil(lambda: "Downloaded" in client.transfer_row.note.text()
                    or bool(client.error_text), timeout=WAIT)
    assert not client.error_text
    assert (local / BIG).read_bytes() == payload
    assert client.local_folder == local
    top = client.progress_bar.maximum()
    assert values and values[-1] == top, values
    assert client.transfer_row.isVisible() and BIG in client.transfer_label.text()
    assert not client.cancel_button.isEnabled()

    # upload: on the server's disk and in the listing
    monkeypatch.setattr("ui.panels.ftp_client.QFileDialog.getOpenFileName",
                        lambda *args, **kwargs: (str(upload), ""))
    click(qtbot, client.upload_button)
    qtbot.waitUntil(lambda: "hello.txt" in client.model.names() or bool(client.error_text),
                    timeout=WAIT)
    assert not client.error_text
    assert "Uploaded hello.txt" in client.transfer_row.note.text()
    assert (root / "hello.txt").read_bytes() == upload.read_bytes()

    # into a folder and back up
    cell = client.table.visualRect(client.model.index(0, 0)).center()
    qtbot.mouseClick(client.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.mouseDClick(client.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.waitUntil(lambda: client.cwd == "/docs", timeout=WAIT)
    assert client.model.rowCount() == 0 and client.up_button.isEnabled()
    click(qtbot, client.up_button)
    qtbot.waitUntil(lambda: client.cwd == "/" and "hello.txt" in client.model.names(),
                    timeout=WAIT)

    # the inspector: data connections under their control connection
    model = window.model
    qtbot.waitUntil(lambda: any(s.startswith(f"RETR {BIG}") for _, s in data_rows(model))
                    and any(s.startswith("STOR hello.txt") for _, s in data_rows(model)),
                    timeout=WAIT)
    conn, _ = next(row for row in data_rows(model) if row[1].startswith(f"RETR {BIG}"))
    control, arrow, data = conn.partition(" ↳ ")
    assert arrow and control.startswith("c") and data.startswith("c"), conn
    assert window.bridge.connections[control].protocol == "ftp"
    inspector = window.inspector
    inspector.filter_edit.setText(control)
    proxy = inspector.proxy
    qtbot.waitUntil(lambda: proxy.rowCount() > 0, timeout=WAIT)
    shown = [proxy.index(r, 0).data(MESSAGE_ROLE) for r in range(proxy.rowCount())]
    assert {m.protocol for m in shown} == {"ftp", "ftp-data"}
    assert any(m.connection == data for m in shown)
    assert all(m.connection == control
               or window.bridge.connections[m.connection].parent == control for m in shown)
    inspector.filter_edit.setText("")

    # active mode: untick Passive, reconnect, the listing still works
    click(qtbot, client.connect_button)  # Disconnect
    qtbot.waitUntil(lambda: not client.connected, timeout=WAIT)
    assert client.model.rowCount() == 0
    client.passive_box.setChecked(False)
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: client.model.names() == ["docs", BIG, "hello.txt"]
                    or bool(client.error_text), timeout=WAIT)
    assert not client.error_text and "active" in client.status_label.text()
    assert no_dialogs()


def test_wrong_password_shows_inline_and_new_folder_rename_delete(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    server = add_panel(window, qtbot, "server", "ftp", FtpServerPanel, timeout=WAIT)
    client = add_panel(window, qtbot, "client", "ftp", FtpClientPanel, timeout=WAIT)
    qtbot.waitUntil(lambda: client.password_edit.text() == "lab", timeout=WAIT)
    client.password_edit.setText("wrong")
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: bool(client.error_text), timeout=WAIT)
    assert client.error_label.isVisible() and not client.connected

    server.user_edit.setText("kim")
    server.password_edit.setText("secret")
    server.password_edit.textEdited.emit("secret")
    click(qtbot, server.apply_button)
    qtbot.waitUntil(lambda: server.facts.get("user") == "kim"
                    and server.facts.get("password") == "secret", timeout=WAIT)
    client.user_edit.setText("kim")
    client.password_edit.setText("secret")
    click(qtbot, client.connect_button)
    qtbot.waitUntil(lambda: client.connected and client.model.rowCount() > 0, timeout=WAIT)
    assert not client.error_text

    click(qtbot, client.mkdir_button)
    assert client.prompt.isVisible()
    client.prompt.edit.setText("made")
    click(qtbot, client.prompt.ok_button)
    qtbot.waitUntil(lambda: "made" in client.model.names(), timeout=WAIT)
    assert (tmp_path / "ftp" / "made").is_dir()
    row = client.model.row_of("made")
    assert row is not None
    client.table.selectRow(row)
    click(qtbot, client.rename_button)
    client.prompt.edit.setText("renamed")
    click(qtbot, client.prompt.ok_button)
    qtbot.waitUntil(lambda: "renamed" in client.model.names(), timeout=WAIT)
    row = client.model.row_of("renamed")
    assert row is not None
    client.table.selectRow(row)
    click(qtbot, client.delete_button)
    assert not client.prompt.edit.isVisible()  # a yes/no question
    click(qtbot, client.prompt.ok_button)
    qtbot.waitUntil(lambda: "renamed" not in client.model.names(), timeout=WAIT)
    assert not (tmp_path / "ftp" / "renamed").exists() and not client.error_text
    assert no_dialogs()


def test_student_passwords_and_a_turned_away_bounce_show_in_the_server_panel(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    server = add_panel(window, qtbot, "server", "ftp", FtpServerPanel, timeout=WAIT)
    row = server.students
    assert row.spin.value() == 0 and not row.passwords_label.isVisible()
    assert not server.refused_label.isVisible()
    address = server.info.address

    row.spin.setValue(2)
    click(qtbot, row.apply_button)
    qtbot.waitUntil(lambda: row.passwords_label.isVisible(), timeout=WAIT)
    assert row.passwords_label.text().splitlines()[1:] == [  # hidden from the projector
        "student1: ••••••••", "student2: ••••••••"]
    row.show_box.setChecked(True)
    lines = row.passwords_label.text().splitlines()[1:]
    assert [line.split(": ")[0] for line in lines] == ["student1", "student2"]
    assert server.info.address == address and not row.apply_button.isEnabled()
    assert lines == [f"{user}: {password}" for user, password
                     in student_passwords(2, "ftp").items()]
    password = lines[0].split(": ")[1]

    host, port = address.rsplit(":", 1)
    ftp = ftplib.FTP()
    ftp.connect(host, int(port), timeout=10)
    assert ftp.login("student1", password).startswith("230")  # the password handed out
    with pytest.raises(ftplib.error_perm, match="^504 .*FTP bounce"):
        ftp.sendcmd("PORT 10,1,2,3,40,1")
    ftp.quit()
    qtbot.waitUntil(lambda: server.refused_label.isVisible(), timeout=WAIT)
    assert server.refused_label.text() == "Turned away: FTP bounce attempts 1"

    row.spin.setValue(0)  # off again: the list goes
    click(qtbot, row.apply_button)
    qtbot.waitUntil(lambda: not row.passwords_label.isVisible(), timeout=WAIT)
    assert no_dialogs()
