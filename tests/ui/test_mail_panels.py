"""The mail panels through the window's own actions: an SMTP and a POP3 server on
one mail folder, the mail composer and the mailbox reader; a mail goes in with SMTP,
shows in the SMTP server's live mailbox view, and comes out (and is deleted) with
POP3, and the inspector shows both conversations."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from lab.clients.smtp import SendResult
from lab.model import NodeState
from tests.ui.helpers import add_panel, click, no_dialogs
from ui import theme
from ui.mainwindow import MainWindow
from ui.panels.mail_composer import MailComposerPanel, result_html
from ui.panels.mail_reader import MailReaderPanel
from ui.panels.mail_server import Pop3ServerPanel, SmtpServerPanel

WAIT = 15000
SUBJECT = "Lunch at noon?"
BODY = "Hi Ann,\n\nshall we meet at noon?\n.\nA line with a lone dot above.\n"


def summaries(window: MainWindow, protocol: str) -> list[str]:
    model = window.model
    return [model.message(r).summary for r in range(model.rowCount())
            if model.message(r).protocol == protocol]


def test_result_line_colours_reply_refusals_and_errors() -> None:
    ok = result_html(SendResult(ok=True, reply="250 2.0.0 OK: delivered",
                                refused=(("bob@else.test", "550 relaying denied"),)))
    good, bad = theme.colour("good"), theme.colour("bad")  # in the look in use
    assert good != bad
    assert f"{good}'>250 2.0.0 OK: delivered" in ok
    assert f"{bad}'>refused bob@else.test: 550 relaying denied" in ok
    failed = result_html(SendResult(ok=False, error="127.0.0.1:1: Connection refused"))
    assert failed == f"<span style='color:{bad}'>127.0.0.1:1: Connection refused</span>"


def test_mail_goes_in_with_smtp_and_out_with_pop3(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, qtmodeltester, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    smtp = add_panel(window, qtbot, "server", "smtp", SmtpServerPanel)
    pop3 = add_panel(window, qtbot, "server", "pop3", Pop3ServerPanel)
    qtbot.waitUntil(lambda: str(tmp_path) in smtp.facts.get("root", ""), timeout=WAIT)
    assert "@lab.test" in smtp.domain_label.text()
    assert pop3.password_edit.text() == "lab"
    qtbot.waitUntil(lambda: smtp.mailboxes_label.text() == "Mailboxes, live:", timeout=WAIT)
    assert smtp.model.rowCount() == 0
    composer = add_panel(window, qtbot, "client", "smtp", MailComposerPanel)
    reader = add_panel(window, qtbot, "client", "pop3", MailReaderPanel)
    assert composer.server_combo.address() == smtp.info.address  # the running server
    assert reader.server_combo.address() == pop3.info.address

    qtbot.waitUntil(lambda: None not in (composer.state, reader.state), timeout=WAIT)
    composer.from_edit.setText("you@lab.test")  # the settings' default is ann@lab.test
    composer.to_edit.setText("ann@lab.test")
    composer.subject_edit.setText(SUBJECT)
    composer.body_edit.setPlainText(BODY)
    window.activateWindow()
    composer.subject_edit.setFocus()
    qtbot.waitUntil(composer.subject_edit.hasFocus, timeout=WAIT)
    qtbot.keyClick(composer.subject_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: composer.last_result is not None, timeout=WAIT)
    assert composer.result_text().startswith("250 "), composer.result_text()
    assert theme.colour("good") in composer.result_label.text()
    qtbot.waitUntil(lambda: smtp.model.subjects() == [SUBJECT], timeout=WAIT)  # live
    qtmodeltester.check(smtp.model)
    row = [smtp.model.index(0, c).data() for c in range(smtp.model.columnCount())]
    assert row[:4] == ["ann", "you@lab.test", "ann@lab.test", SUBJECT]

    assert smtp.message_window is None
    cell = smtp.table.visualRect(smtp.model.index(0, 3)).center()
    qtbot.mouseClick(smtp.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.mouseDClick(smtp.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.waitUntil(lambda: smtp.message_window is not None
                    and smtp.message_window.isVisible(), timeout=WAIT)
    assert smtp.message_window is not None
    assert SUBJECT in smtp.message_window.view.headers_text()
    assert "shall we meet at noon?" in smtp.message_window.view.body()
    assert not smtp.message_window.isModal()
    smtp.message_window.close()

    reader.password_edit.setText("wrong")
    click(qtbot, reader.open_button)
    qtbot.waitUntil(lambda: "wrong password" in reader.error_text, timeout=WAIT)
    assert reader.error_label.isVisible() and not reader.is_open
    assert reader.password_edit.echoMode() is reader.password_edit.EchoMode.Password
    reader.show_button.click()
    assert reader.password_edit.echoMode() is reader.password_edit.EchoMode.Normal

    reader.password_edit.setText("lab")
    click(qtbot, reader.open_button)
    qtbot.waitUntil(lambda: reader.model.subjects() == [SUBJECT], timeout=WAIT)
    assert reader.is_open and not reader.error_text and reader.open_button.text() == "Close"
    qtmodeltester.check(reader.model)
    reader.table.selectRow(0)
    qtbot.waitUntil(lambda: "shall we meet at noon?" in reader.view.body(), timeout=WAIT)
    assert "A line with a lone dot above." in reader.view.body()  # dot-stuffing undone
    assert SUBJECT in reader.view.headers_text() and "you@lab.test" in reader.view.headers_text()

    qtbot.waitUntil(lambda: any(s.startswith("MAIL FROM:<you@lab.test>")
                                for s in summaries(window, "smtp"))
                    and "PASS ****" in summaries(window, "pop3")
                    and any(s.startswith("RETR 1") for s in summaries(window, "pop3")),
                    timeout=WAIT)
    assert "RCPT TO:<ann@lab.test>" in summaries(window, "smtp")
    assert composer.result_text() in summaries(window, "smtp")  # the reply to the end of DATA
    assert not any("PASS lab" in s or "PASS wrong" in s for s in summaries(window, "pop3"))

    click(qtbot, reader.delete_button)
    qtbot.waitUntil(lambda: 1 in reader.model.deleted, timeout=WAIT)
    assert "QUIT" in reader.status_label.text()
    assert smtp.model.subjects() == [SUBJECT]  # DELE only marks it
    click(qtbot, reader.open_button)  # Close: QUIT
    qtbot.waitUntil(lambda: not reader.is_open, timeout=WAIT)
    qtbot.waitUntil(lambda: smtp.model.rowCount() == 0, timeout=WAIT)
    assert reader.model.rowCount() == 0 and not reader.error_text
    assert not list((tmp_path / "mail" / "ann" / "cur").iterdir())
    assert not list((tmp_path / "mail" / "ann" / "new").iterdir())
    assert no_dialogs()


def test_refused_recipient_and_new_password_show_inline(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    add_panel(window, qtbot, "server", "smtp", SmtpServerPanel)
    pop3 = add_panel(window, qtbot, "server", "pop3", Pop3ServerPanel)
    composer = add_panel(window, qtbot, "client", "smtp", MailComposerPanel)
    qtbot.waitUntil(lambda: composer.state is not None, timeout=WAIT)
    composer.to_edit.setText("ann@lab.test, eve@elsewhere.example")
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: composer.last_result is not None, timeout=WAIT)
    text = composer.result_text()
    assert text.startswith("250 ") and "refused eve@elsewhere.example: 550" in text, text

    address = pop3.info.address
    pop3.password_edit.setText("secret")
    assert pop3.apply_button.isEnabled() is False  # setText is not an edit
    pop3.password_edit.textEdited.emit("secret")
    qtbot.mouseClick(pop3.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pop3.facts.get("password") == "secret", timeout=WAIT)
    qtbot.waitUntil(lambda: pop3.info.state is NodeState.RUNNING, timeout=WAIT)
    assert pop3.info.address == address and not pop3.apply_button.isEnabled()
    reader = add_panel(window, qtbot, "client", "pop3", MailReaderPanel)
    click(qtbot, reader.open_button)  # still "lab"
    qtbot.waitUntil(lambda: "wrong password" in reader.error_text, timeout=WAIT)
    reader.password_edit.setText("secret")
    click(qtbot, reader.open_button)
    qtbot.waitUntil(lambda: reader.model.rowCount() == 1, timeout=WAIT)
    assert not reader.error_text and no_dialogs()


def test_choosing_a_mail_folder_follows_it_and_stopping_unwatches(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "class-mail"
    folder.mkdir()
    monkeypatch.setattr("ui.panels.mail_server.QFileDialog.getExistingDirectory",
                        lambda *args, **kwargs: str(folder))
    smtp = add_panel(window, qtbot, "server", "smtp", SmtpServerPanel)
    composer = add_panel(window, qtbot, "client", "smtp", MailComposerPanel)
    qtbot.waitUntil(lambda: composer.state is not None, timeout=WAIT)
    composer.to_edit.setText("ann@lab.test")  # the settings' default is bob@lab.test
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: smtp.model.rowCount() == 1, timeout=WAIT)

    address = smtp.info.address
    click(qtbot, smtp.choose_button)
    qtbot.waitUntil(lambda: "class-mail" in smtp.folder_label.text(), timeout=WAIT)
    qtbot.waitUntil(lambda: "class-mail" in smtp.facts.get("root", "")
                    and smtp.model.rowCount() == 0, timeout=WAIT)  # the new folder is empty
    assert smtp.info.address == address and smtp.info.state is NodeState.RUNNING
    composer.subject_edit.setText("Into the new folder")
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: smtp.model.subjects() == ["Into the new folder"], timeout=WAIT)
    assert len(list((folder / "ann" / "new").iterdir())) == 1

    click(qtbot, smtp.start_button)  # Stop
    qtbot.waitUntil(lambda: smtp.info.state is NodeState.STOPPED, timeout=WAIT)
    qtbot.waitUntil(lambda: smtp.model.rowCount() == 0, timeout=WAIT)  # no live data
    assert "while the server runs" in smtp.mailboxes_label.text()
    click(qtbot, smtp.start_button)  # Start again
    qtbot.waitUntil(lambda: smtp.info.state is NodeState.RUNNING
                    and smtp.model.subjects() == ["Into the new folder"], timeout=WAIT)
    assert not smtp.error_text
    assert no_dialogs()
