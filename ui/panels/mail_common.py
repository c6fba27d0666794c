"""What the mail panels share: the server picker, a message view (headers and body),
how a mail folder is shown."""

from __future__ import annotations

import html
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from lab.model import ClientState, NodeInfo
from ui import theme
from ui.bridge import EngineBridge

HEADERS = ("From", "To", "Cc", "Subject", "Date")


def mail_server_addresses(servers: list[NodeInfo], kind: str) -> list[tuple[str, str]]:
    """``(host:port, name)`` of each running lab server of ``kind``."""
    return [(server.address, server.name)
            for server in servers if server.kind == kind and server.address]


def short_path(path: str) -> str:
    """``path`` with the home folder as ``~``."""
    home = str(Path.home())
    return "~" + path[len(home):] if path.startswith(home + "/") else path


def coloured(text: str, meaning: str) -> str:
    """Plain ``text`` as rich text in the colour of ``meaning`` (good, bad…) now."""
    return theme.span(html.escape(text), meaning)


class ServerCombo(QComboBox):
    """An editable list of the running lab servers of one kind; any host:port may be
    typed instead. It follows the bridge and keeps what the user typed."""

    def __init__(self, kind: str, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.bridge = bridge
        self._shown: list[tuple[str, str]] | None = None
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMinimumContentsLength(8)  # it grows with the panel; a narrow one fits too
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        bridge.node_changed.connect(self.refresh)
        bridge.node_removed.connect(self.refresh)
        self.refresh()

    def address(self) -> str:
        return self.currentText().strip()

    def refresh(self, *_: object) -> None:
        """List the running servers again; the typed text stays (the first server's
        address fills an empty box)."""
        found = mail_server_addresses(self.bridge.running_servers(), self.kind)
        if found == self._shown:
            return
        self._shown = found
        typed = self.currentText()
        self.blockSignals(True)
        self.clear()
        for address, name in found:
            self.addItem(address, name)
            self.setItemData(self.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
        self.setEditText(typed or (found[0][0] if found else ""))
        self.blockSignals(False)


class SettingFields:
    """The fields of a client panel that show its settings (name → widget).

    ``show`` puts a state's settings in them: a setting that changed since it was last
    shown replaces the field's text, unless the user is editing that field (it has
    focus and differs from what was shown); a state that repeats the settings leaves
    what the user typed and has not sent yet. ``values`` reads the fields, to send
    with an action. An empty ``server`` leaves the ServerCombo's pick."""

    def __init__(self) -> None:
        self._widgets: dict[str, QLineEdit | QPlainTextEdit | ServerCombo] = {}
        self._shown: dict[str, str] = {}

    def add(self, name: str, widget: QLineEdit | QPlainTextEdit | ServerCombo) -> None:
        self._widgets[name] = widget

    def text(self, name: str) -> str:
        widget = self._widgets[name]
        if isinstance(widget, ServerCombo):
            return widget.address()
        return widget.toPlainText() if isinstance(widget, QPlainTextEdit) else widget.text()

    def values(self) -> dict[str, str]:
        return {name: self.text(name) for name in self._widgets}

    def _editing(self, name: str) -> bool:
        widget = self._widgets[name]
        line = widget.lineEdit() if isinstance(widget, ServerCombo) else widget
        focused = widget.hasFocus() or (line is not None and line.hasFocus())
        return focused and self.text(name) != self._shown.get(name, "")

    def show(self, state: ClientState) -> None:
        for name, widget in self._widgets.items():
            value = state.setting(name)
            if self._shown.get(name) == value or self._editing(name):
                continue
            self._shown[name] = value
            if value == self.text(name) or (name == "server" and not value):
                continue
            if isinstance(widget, ServerCombo):
                widget.setEditText(value)
            elif isinstance(widget, QPlainTextEdit):
                widget.setPlainText(value)
            else:
                widget.setText(value)


def parse_message(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body_text(message: EmailMessage) -> str:
    """The text a reader wants: the plain part (else the HTML part as source)."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            content = part.get_content()
            if isinstance(content, str):
                return content
    except (LookupError, ValueError, AssertionError):  # an odd charset or structure
        pass
    payload = message.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    return str(message.get_payload())


class MessageView(QWidget):
    """One message: From, To, Subject and Date in bold above its body text."""

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self.headers_label = QLabel(self)
        self.headers_label.setWordWrap(True)
        self.headers_label.setTextFormat(Qt.TextFormat.RichText)
        self.headers_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.set_tone(self.headers_label, "box")
        self.body_edit = QPlainTextEdit(self)
        self.body_edit.setReadOnly(True)
        self.body_edit.setMinimumHeight(70)
        self.body_edit.setPlaceholderText(placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.headers_label)
        layout.addWidget(self.body_edit, 1)
        self._message: EmailMessage | None = None
        theme.on_look_change(self, self._show_headers)
        self.clear()

    def clear(self) -> None:
        self._message = None
        self.headers_label.hide()
        self.headers_label.clear()
        self.body_edit.clear()

    def show_message(self, raw: bytes) -> None:
        message = self._message = parse_message(raw)
        self._show_headers()
        self.body_edit.setPlainText(body_text(message))

    def _show_headers(self) -> None:
        """The headers in a box, their names faint in the look in use."""
        if self._message is None:
            return
        rows = []
        for name in HEADERS:
            value = self._message.get(name)
            if value is not None:
                text = " ".join(str(value).split())
                rows.append(f"<tr><td style='color:{theme.colour('faint')}; "
                            f"padding-right:6px'>{name}</td>"
                            f"<td><b>{html.escape(text)}</b></td></tr>")
        self.headers_label.setText(f"<table cellspacing='0'>{''.join(rows)}</table>")
        self.headers_label.setVisible(bool(rows))

    def headers_text(self) -> str:
        return self.headers_label.text()

    def body(self) -> str:
        return self.body_edit.toPlainText()
