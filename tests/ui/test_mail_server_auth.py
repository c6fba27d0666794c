"""Issue 16, item 11: the SMTP server panel's AUTH switch. Ticking it restarts the
server with AUTH required (smtplib sees AUTH in EHLO, must log in, and can), says the
password crosses in the clear; unticking turns it off again; a server state that says
AUTH is on shows ticked. Issue 18: the SMTP panel shows its caps, the POP3 panel
hands out per-student passwords, and both show what they turned away."""

from __future__ import annotations

import poplib
import smtplib
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from lab.mail import MailView
from lab.model import NodeState, parse_address
from lab.servers.students import student_passwords
from tests.ui.helpers import add_panel, click
from ui.mainwindow import MainWindow
from ui.panels.mail_server import Pop3ServerPanel, SmtpServerPanel

WAIT = 15000
MAIL = b"Subject: hi\r\nFrom: zed@example.org\r\nTo: ann@lab.test\r\n\r\nHello.\r\n"


def tick(qtbot, panel: SmtpServerPanel) -> None:  # type: ignore[no-untyped-def]
    box = panel.auth_check
    qtbot.waitUntil(box.isEnabled, timeout=WAIT)
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def features(address: str) -> tuple[bool, int]:
    """Whether EHLO offers AUTH, and the code of a MAIL FROM without logging in."""
    host, port = parse_address(address)
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.ehlo()
        return client.has_extn("auth"), client.mail("zed@example.org")[0]


def test_the_auth_box_restarts_the_server_requiring_auth_and_back(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    smtp = add_panel(window, qtbot, "server", "smtp", SmtpServerPanel)
    assert not smtp.auth_check.isChecked()
    assert "without logging in" in smtp.auth_hint.text()
    assert features(smtp.info.address) == (False, 250)
    address = smtp.info.address

    tick(qtbot, smtp)
    qtbot.waitUntil(lambda: smtp.facts.get("auth") == "on" and smtp.auth_check.isEnabled(),
                    timeout=WAIT)
    assert smtp.auth_check.isChecked()
    assert smtp.info.address == address and smtp.info.state is NodeState.RUNNING
    hint = smtp.auth_hint.text()
    assert "student" in hint and "in the clear" in hint
    assert features(address) == (True, 530)
    host, port = parse_address(address)
    with smtplib.SMTP(host, port, timeout=10) as client:
        assert client.login("student", "lab")[0] == 235
        assert client.sendmail("zed@example.org", ["ann@lab.test"], MAIL) == {}

    tick(qtbot, smtp)
    qtbot.waitUntil(lambda: smtp.facts.get("auth") == "off" and smtp.auth_check.isEnabled(),
                    timeout=WAIT)
    assert not smtp.auth_check.isChecked()
    assert features(address) == (False, 250)
    assert not smtp.error_text


def test_a_state_saying_auth_is_on_shows_ticked(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    smtp = add_panel(window, qtbot, "server", "smtp", SmtpServerPanel)
    smtp.show_view(MailView(root=str(tmp_path / "mail"), domain="lab.test", auth=True))
    assert smtp.auth_check.isChecked() and "in the clear" in smtp.auth_hint.text()
    smtp.show_view(MailView(root=str(tmp_path / "mail"), domain="lab.test"))  # not said
    assert smtp.auth_check.isChecked()
    smtp.show_view(MailView(root=str(tmp_path / "mail"), domain="lab.test", auth=False))
    assert not smtp.auth_check.isChecked()


# ---- issue 18: caps, student passwords and what the servers turned away -------------

def test_the_smtp_panel_shows_its_caps_and_what_it_turned_away(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    smtp = add_panel(window, qtbot, "server", "smtp", SmtpServerPanel)
    caps = smtp.caps_label.text()
    assert "20 recipients a message" in caps and "20 new mailboxes" in caps
    assert "100 MiB" in caps and "RFC 5321 §4.5.3.1.10" in smtp.caps_label.toolTip()
    assert not smtp.refused_label.isVisible()
    host, port = parse_address(smtp.info.address)
    with smtplib.SMTP(host, port, timeout=10) as client:
        refused = client.sendmail("zed@example.org",
                                  [f"u{n}@lab.test" for n in range(23)], MAIL)
    assert len(refused) == 3
    qtbot.waitUntil(lambda: "recipients over the cap 3" in smtp.refused_label.text(),
                    timeout=WAIT)
    assert smtp.refused_label.isVisible()
    assert smtp.refused_label.text().startswith("Turned away: ")


def test_the_pop3_panel_hands_out_student_passwords_and_counts_failed_logins(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    pop3 = add_panel(window, qtbot, "server", "pop3", Pop3ServerPanel)
    row = pop3.students
    assert row.spin.value() == 0 and not row.passwords_label.isVisible()
    row.spin.setValue(2)
    click(qtbot, row.apply_button)
    passwords = student_passwords(2, "mail")
    qtbot.waitUntil(lambda: row.passwords_label.isVisible(), timeout=WAIT)
    assert all(password not in row.passwords_label.text() for password in passwords.values())
    row.show_box.setChecked(True)
    for user, password in passwords.items():
        assert f"{user}: {password}" in row.passwords_label.text()
    assert row.spin.value() == 2 and not row.apply_button.isEnabled()
    host, port = parse_address(pop3.info.address)
    client = poplib.POP3(host, port, timeout=10)
    client.user("student1")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.pass_("not-it")
    client.user("student1")
    assert client.pass_(passwords["student1"]).startswith(b"+OK student1's maildrop")
    client.quit()
    qtbot.waitUntil(lambda: "failed logins 1" in pop3.refused_label.text(), timeout=WAIT)
    assert pop3.refused_label.isVisible()
