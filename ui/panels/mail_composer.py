"""The mail composer: From, To (several), Subject and Body, sent over SMTP with the
Send button at the panel's top; the server's final reply shows under the form, in
green, and what went wrong in red.

The panel shows the client's state only (ClientState: the settings in the fields, the
last SendResult in the result line), so a lesson's send looks like a click on Send."""

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

from lab.clients.smtp import SendResult
from lab.model import ClientState, NodeInfo, Outcome
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext
from ui.panels.mail_common import ServerCombo, SettingFields, coloured

NOT_SENT = "Not sent yet."


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
        self.fields = SettingFields()
        self.server_combo = ServerCombo("smtp", context.bridge, self)
        self.server_combo.setToolTip("A running lab SMTP server, or type any host:port")
        edit = self.server_combo.lineEdit()
        assert edit is not None
        edit.setPlaceholderText("127.0.0.1:2525")
        self.from_edit = self._line("you@lab.test", "The sender (MAIL FROM and the From header)")
        self.to_edit = self._line("ann@lab.test, bob@lab.test",
                                  "One or more recipients, separated by commas (one RCPT TO "
                                  "each); the lab server takes mail for @lab.test")
        self.subject_edit = self._line("Subject", "The Subject header")
        self.body_edit = QPlainTextEdit(self)
        self.body_edit.setPlaceholderText("The message text")
        self.body_edit.setTabChangesFocus(True)
        self.body_edit.setMinimumHeight(60)
        self.body_edit.setMaximumHeight(110)
        for name, widget in (("server", self.server_combo), ("from", self.from_edit),
                             ("to", self.to_edit), ("subject", self.subject_edit),
                             ("body", self.body_edit)):
            self.fields.add(name, widget)
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
        self._make_result_row()
        self.finish_layout()
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self._send_clicked)

    def _line(self, placeholder: str, tip: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        return edit

    def _make_result_row(self) -> None:
        self.result_label = QLabel(NOT_SENT, self)
        theme.set_tone(self.result_label, "faint")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._result: Callable[[], str] | None = None  # makes the line's rich text
        theme.on_look_change(self.result_label, self._show_result_line)
        self.send_button = QPushButton("Send", self)
        self.send_button.setToolTip("Send the mail: one SMTP conversation (Ctrl+Enter)")
        self.send_button.clicked.connect(self._send_clicked)
        self.send_button.setEnabled(False)  # until the first state fills the fields
        self.body.addWidget(self.result_label)
        # Send at the top, beside what was sent: in reach whenever the panel's top is,
        # however short the column (the form and the result line may scroll below)
        item = self.body.itemAt(0)
        header = item.layout() if item is not None else None
        assert isinstance(header, QHBoxLayout)
        header.insertWidget(header.count() - 1, self.send_button)

    # ---- state ---------------------------------------------------------------------

    @property
    def last_result(self) -> SendResult | None:
        """The last send's result, as the engine published it (None before one)."""
        view = getattr(self.state, "view", None)
        return view if isinstance(view, SendResult) else None

    def describe(self, info: NodeInfo) -> str:
        if getattr(self.state, "busy", ""):
            return super().describe(info)
        result = self.last_result
        if result is None:
            return "nothing sent yet"
        return f"{result.sent} sent" + ("" if result.ok else " · the last send failed")

    def show_state(self, state: ClientState) -> None:
        """The settings in the fields; the last SendResult (or "Sending…") below."""
        self.fields.show(state)
        busy = bool(state.busy)
        self.send_button.setEnabled(not busy)
        self.send_button.setText("Sending…" if busy else "Send")
        result = self.last_result
        if busy:
            self._set_result_line(None, "Sending…")
        elif result is None:
            self._set_result_line(None, NOT_SENT)
        else:
            self._set_result_line(lambda: result_html(result))
            self.result_label.setToolTip(html.escape(result.reply))
            if not result.ok and state.error and state.error in self.result_text():
                self.show_error("")  # the result line says it already, in red

    def _set_result_line(self, make: Callable[[], str] | None, faint: str = "") -> None:
        """Show the rich text ``make`` gives (and make it again for another look),
        or ``faint`` text."""
        self._result = make
        theme.set_tone(self.result_label, None if make else "faint")
        if make is None:
            self.result_label.setText(html.escape(faint))
            self.result_label.setToolTip("")
        self._show_result_line()

    def _show_result_line(self) -> None:
        if self._result is not None:
            self.result_label.setText(self._result())

    def result_text(self) -> str:
        """The result line as plain text."""
        text = self.result_label.text().replace("<br>", "\n")
        return html.unescape(re.sub(r"<[^>]+>", "", text))

    # ---- commands ------------------------------------------------------------------

    def _send_clicked(self) -> None:
        if self.send_button.isEnabled():
            spawn(self.send())

    async def added(self) -> None:
        self.subject_edit.setFocus()

    async def send(self) -> Outcome | None:
        """Send what the form says (the fields go as the client's settings); the
        result shows when the engine publishes it. The action's Outcome comes back."""
        self.send_button.setEnabled(False)  # until the engine's state says otherwise
        try:
            return await self.act("send", **self.fields.values())
        finally:
            self.send_button.setEnabled(not getattr(self.state, "busy", ""))
