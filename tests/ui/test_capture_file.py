"""Save capture… and Open capture…: a real exchange saved to .cslab, opened read-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from lab.model import Sender
from lab.store import load
from tests.lab.test_pcapng import read_pcapng
from tests.ui.helpers import no_dialogs
from tests.ui.test_mainwindow import WAIT, say_hello
from ui.mainwindow import MainWindow
from ui.views.capture_file import CaptureViewer
from ui.views.export import ExportMenu


def test_save_then_open_shows_the_rows_read_only(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    say_hello(window, qtbot)
    target = tmp_path / "lesson"  # no suffix: .cslab is added
    monkeypatch.setattr("ui.views.capture_file.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(target), ""))
    files = window.capture_files
    assert files.save_action.shortcut().toString() == "Ctrl+S"
    assert files.open_action.shortcut().toString() == "Ctrl+O"
    files.save_action.trigger()
    qtbot.waitUntil(lambda: "Saved 2 messages" in window.statusBar().currentMessage(),
                    timeout=WAIT)
    saved = tmp_path / "lesson.cslab"
    assert [m.summary for m in load(saved).messages] == [
        window.model.message(row).summary for row in range(2)]

    monkeypatch.setattr("ui.views.capture_file.QFileDialog.getOpenFileName",
                        lambda *args, **kwargs: (str(saved), ""))
    files.open_action.trigger()
    [viewer] = files.viewers
    assert isinstance(viewer, CaptureViewer) and viewer.isVisible()
    assert "lesson.cslab (read-only)" in viewer.windowTitle()
    assert viewer.model.rowCount() == 2 and viewer.wire.model().rowCount() == 2
    first = viewer.model.message(0)
    assert first.sender is Sender.CLIENT and "hello" in first.summary
    live = window.model.message(0)
    # the diagram names the ends as the lab's window did
    assert viewer.diagram.namer(first, Sender.CLIENT) == window.name_of(live, Sender.CLIENT)
    assert viewer.diagram.namer(first, Sender.SERVER) == window.name_of(live, Sender.SERVER)
    viewer.inspector.select_message(2)
    assert viewer.inspector.table.selectionModel().hasSelection()
    # the inspector names them so too, after the address (lab/naming.py, once for all)
    fields = {viewer.inspector.fields.item(r, 0).text(): viewer.inspector.fields.item(r, 1).text()
              for r in range(viewer.inspector.fields.rowCount())}
    server_name = window.name_of(live, Sender.SERVER)
    assert fields["from"] == f"{server_name} ({first.server})"
    assert first.node is not None and first.node == live.node
    viewer.close()
    qtbot.waitUntil(lambda: not files.viewers, timeout=WAIT)
    assert no_dialogs()


def test_opening_a_file_that_is_not_a_capture_says_why(  # type: ignore[no-untyped-def]
        window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "notes.cslab"
    bad.write_bytes(b"SQLite format 3\x00 and then nothing")
    said: list[str] = []
    monkeypatch.setattr("ui.views.capture_file.QMessageBox.warning",
                        lambda parent, title, text: said.append(text)
                        or QMessageBox.StandardButton.Ok)
    assert window.capture_files.open(str(bad)) is None
    assert "not a .cslab capture" in said[0] and not window.capture_files.viewers


def test_export_menu_writes_pcapng(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    say_hello(window, qtbot)
    target = tmp_path / "lesson.pcapng"
    monkeypatch.setattr("ui.views.export.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(target), ""))
    assert isinstance(window.export_button, ExportMenu)
    window.export_button.actions_by_format["pcapng"].trigger()
    qtbot.waitUntil(lambda: "packets to" in window.statusBar().currentMessage(), timeout=WAIT)
    packets = read_pcapng(target)
    assert [p.frame[54:] for p in packets if len(p.frame) > 54] == [b"hello", b"hello"]
