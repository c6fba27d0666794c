"""The mail composer: From, To (several), Subject and Body, sent over SMTP; the
server's final reply shows under the form, in green, and what went wrong in red."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from lab.clients.smtp import MailSender, SendResult, split_recipients
from lab.engine import Engine, EngineError
from lab.model import NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext
from ui.panels.mail_common import ServerCombo, coloured

DEFAULT_FROM = "you@lab.test"
DEFAULT_TO = "ann@lab.test"


async def send_on_engine(engine: Engine, node_id: str, server: str, sender: str,
                         recipients: list[str], subject: str, body: str) -> SendResult:
    """Runs on the engine's loop: one SMTP session that sends one message."""
    mail = engine.client_object(node_id)
    assert isinstance(mail, MailSender)
    return await mail.send(server, sender, recipients, subject, body)


def result_html(result: SendResult) -> str:
    """The result line: the final reply in green, refusals and the error in red."""
    lines = []
    if result.ok:
        lines.append(coloured(result.reply, "good"))
    elif result.reply and result.reply not in result.error:
        lines.append(coloured(result.reply, "bad"))
    for recipient, reason in result.refused:
        lines.append(coloured(f"refused {recipient}: {reason}", "bad"))
    if result.error:
        lines.append(coloured(result.error, "bad"))
    return "<br>".join(lines)


class MailComposerPanel(NodePanel):
    """Write one mail and send it through the lab to an SMTP server."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Remove this mail composer")
        self.last_result: SendResult | None = None
        self.sent = 0
        self._busy = False
        self.server_combo = ServerCombo("smtp", context.bridge, self)
        self.server_combo.setToolTip("A running lab SMTP server, or type any host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
        edit.setPlaceholderText("127.0.0.1:2525")
        self.from_edit = self._line(DEFAULT_FROM, "you@lab.test",
                                    "The sender (MAIL FROM and the From header)")
        self.to_edit = self._line(DEFAULT_TO, "ann@lab.test, bob@lab.test",
                                  "One or more recipients, separated by commas (one RCPT TO "
                                  "each); the lab server takes mail for @lab.test")
        self.subject_edit = self._line("", "Subject", "The Subject header")
        self.body_edit = QPlainTextEdit(self)
        self.body_edit.setPlaceholderText("The message text")
        self.body_edit.setTabChangesFocus(True)
        self.body_edit.setMinimumHeight(60)
        self.body_edit.setMaximumHeight(110)
        form = QFormLayout()
        form.setHorizontalSpacing(6)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Server", self.server_combo)
        form.addRow("From", self.from_edit)
        form.addRow("To", self.to_edit)
        form.addRow("Subject", self.subject_edit)
        self.body.addLayout(form)
        self.body.addWidget(self.body_edit)
        self.result_label = QLabel("Not sent yet.", self)
        theme.set_tone(self.result_label, "faint")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._result: Callable[[], str] | None = None  # makes the line's rich text
        theme.on_look_change(self.result_label, self._show_result_line)
        self.send_button = QPushButton("Send", self)
        self.send_button.setToolTip("Send the mail: one SMTP conversation (Ctrl+Enter)")
        self.send_button.clicked.connect(self._send_clicked)
        row = QHBoxLayout()
        row.addWidget(self.result_label, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignTop)
        self.body.addLayout(row)
        self.finish_layout()
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self._send_clicked)

    def _line(self, text: str, placeholder: str, tip: str) -> QLineEdit:
        edit = QLineEdit(text, self)
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        return edit

    def describe(self, info: NodeInfo) -> str:
        sent = getattr(self, "sent", 0)
        return "nothing sent yet" if not sent else f"{sent} sent"

    def _send_clicked(self) -> None:
        if not self._busy:
            spawn(self.send())

    async def added(self) -> None:
        self.subject_edit.setFocus()

    async def send(self) -> SendResult | None:
        """Send what the form says; the outcome shows in the result line."""
        self._set_busy(True)
        self.show_error("")
        self._result = None
        self.result_label.setText("Sending…")
        theme.set_tone(self.result_label, "faint")
        lab = self.context.lab
        try:
            result = await lab.call(
                send_on_engine, lab.engine, self.node_id, self.server_combo.address(),
                self.from_edit.text().strip(), split_recipients(self.to_edit.text()),
                self.subject_edit.text(), self.body_edit.toPlainText())
        except EngineError as exc:
            error = str(exc)  # exc is unbound after the except block
            self._set_result_line(lambda: coloured(error, "bad"))
            return None
        finally:
            self._set_busy(False)
        self.show_result(result)
        return result

    def show_result(self, result: SendResult) -> None:
        self.last_result = result
        self._set_result_line(lambda: result_html(result))
        self.result_label.setToolTip(html.escape(result.reply))
        if result.ok:
            self.sent += 1
        self.update_node(self.info)

    def _set_result_line(self, make: Callable[[], str]) -> None:
        """Show the rich text ``make`` gives, and make it again for another look."""
        self._result = make
        theme.set_tone(self.result_label, None)
        self._show_result_line()

    def _show_result_line(self) -> None:
        if self._result is not None:
            self.result_label.setText(self._result())

    def result_text(self) -> str:
        """The result line as plain text."""
        text = self.result_label.text().replace("<br>", "\n")
        return html.unescape(re.sub(r"<[^>]+>", "", text))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.send_button.setEnabled(not busy)
        self.send_button.setText("Sending…" if busy else "Send")

