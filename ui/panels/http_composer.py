"""The request composer, a small Postman: method, URL, headers, body; the response
with its status, headers, pretty body and timing; a history to send again.

The panel shows the engine's ClientState only: its fields the settings (method,
url, headers, body, mode, dns), its Response and History tabs the ComposerView. Send
runs the kind's ``send`` action with the fields as settings, as a lesson step would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lab.clients.http import ComposerView, HttpResult
from lab.model import ClientState, NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext
from ui.panels.dns_client import LookUpFirst
from ui.panels.http_body import ResponsePane, http_server_urls
from ui.panels.http_request import (
    METHODS,
    MODES,
    Headers,
    HeadersTable,
    Sent,
    format_headers,
    parse_headers,
    set_combo,
    set_plain,
    start_url,
    target_text,
)

#: How long ``send`` waits for the state that shows its response (seconds).
STATE_WAIT = 15.0
#: A history item's flag: the request failed (shown in red).
FAILED_ROLE = Qt.ItemDataRole.UserRole + 1


class HttpComposerPanel(NodePanel):
    """Compose an HTTP request, send it through the lab, read the response."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Remove this request composer")
        self.last_result: HttpResult | None = None
        self._history_shown: tuple[Sent, ...] = ()
        # The settings last put in the fields, from what a new form shows: a state
        # that comes late (after the user has typed) changes only what it changes.
        self._settings_shown.update({"method": "GET", "url": "", "headers": "",
                                     "mode": "raw", "body": "", "dns": ""})
        self._state_seen: asyncio.Future[None] | None = None
        self._urls: list[tuple[str, str]] | None = None
        self._make_request_row()
        self.look_up = LookUpFirst(context.bridge, self)
        self.body.addWidget(self.look_up)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._make_request_tab(), "Request")
        self.tabs.addTab(self._make_response_tab(), "Response")
        self.tabs.addTab(self._make_history_tab(), "History")
        # the pages' own size hints would make the panel tall; the column scrolls
        for widget in (self.headers_table, self.body_edit, self.body_view,
                       self.response_headers, self.history_list):
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.tabs.setMinimumHeight(280)
        self.body.addWidget(self.tabs, 1)
        self.finish_layout()
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self._send_clicked)
        context.bridge.node_changed.connect(self.refresh_urls)
        context.bridge.node_removed.connect(self.refresh_urls)
        self.refresh_urls()

    # ---- building ------------------------------------------------------------------

    def _make_request_row(self) -> None:
        self.method_combo = QComboBox(self)
        self.method_combo.setEditable(True)
        self.method_combo.addItems(METHODS)
        self.method_combo.setToolTip("The HTTP method; type another one if you like")
        self.method_combo.setMinimumContentsLength(6)
        self.method_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.url_combo = QComboBox(self)
        self.url_combo.setEditable(True)
        self.url_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.url_combo.setMinimumContentsLength(6)  # grows; fits a narrow column too
        self.url_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.url_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.url_combo.setToolTip("A running lab HTTP server, or type any http:// URL")
        edit = self.url_combo.lineEdit()
        assert edit is not None
        edit.setPlaceholderText("http://127.0.0.1:8080/")
        edit.returnPressed.connect(self._send_clicked)
        self.send_button = QPushButton("Send", self)
        self.send_button.setToolTip("Send the request (Ctrl+Enter)")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self._send_clicked)
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(self.method_combo)
        row.addWidget(self.url_combo, 1)
        row.addWidget(self.send_button)
        self.body.addLayout(row)
        self.target_label = QLabel(self)  # where a lesson's paths go: the server setting
        theme.set_tone(self.target_label, "faint")
        self.target_label.setWordWrap(True)
        self.target_label.hide()
        self.body.addWidget(self.target_label)

    def _make_request_tab(self) -> QWidget:
        page = QWidget(self)
        self.headers_table = HeadersTable(page)
        add = QToolButton(page)
        add.setText("+")
        add.setToolTip("Add a header row")
        add.clicked.connect(lambda: self.add_header("", ""))
        remove = QToolButton(page)
        remove.setText("−")
        remove.setToolTip("Remove the selected header row")
        remove.clicked.connect(self.headers_table.remove_current)
        self.mode_combo = QComboBox(page)
        self.mode_combo.addItems(MODES)
        self.mode_combo.setToolTip("raw: sent as typed · JSON: checked, then sent as "
                                   "application/json · form: key=value lines, URL-encoded")
        self.body_edit = QPlainTextEdit(page)
        self.body_edit.setPlaceholderText('Body, e.g. {"title": "Hello"} in JSON mode')
        self.body_edit.setTabChangesFocus(True)
        head_row = QHBoxLayout()
        head_row.addWidget(QLabel("Headers", page), 1)
        head_row.addWidget(add)
        head_row.addWidget(remove)
        body_row = QHBoxLayout()
        body_row.addWidget(QLabel("Body", page), 1)
        body_row.addWidget(self.mode_combo)
        top, bottom = QWidget(page), QWidget(page)
        top_layout, bottom_layout = QVBoxLayout(top), QVBoxLayout(bottom)
        for layout in (top_layout, bottom_layout):
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(2)
        top_layout.addLayout(head_row)
        top_layout.addWidget(self.headers_table)
        bottom_layout.addLayout(body_row)
        bottom_layout.addWidget(self.body_edit)
        split = QSplitter(Qt.Orientation.Vertical, page)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(split)
        return page

    def _make_response_tab(self) -> QWidget:
        self.response = ResponsePane(self)
        self.status_label = self.response.status_label
        self.timing_label = self.response.timing_label
        self.response_tabs = self.response.response_tabs
        self.body_view = self.response.body_view
        self.response_headers = self.response.response_headers
        return self.response

    def _make_history_tab(self) -> QWidget:
        self.history_list = QListWidget(self)
        self.history_list.setToolTip("Double-click a request to fill the form and send it "
                                     "again")
        self.history_list.itemActivated.connect(self._history_activated)
        theme.on_look_change(self.history_list, self._colour_history)
        return self.history_list

    # ---- servers -------------------------------------------------------------------

    def refresh_urls(self, *_: object) -> None:
        """List the running lab HTTP servers' URLs, keeping what the user typed."""
        urls = http_server_urls(self.context.bridge.running_servers())
        if urls == self._urls:
            return
        self._urls = urls
        typed = self.url_combo.currentText()
        self.url_combo.blockSignals(True)
        self.url_combo.clear()
        for url, name in urls:
            self.url_combo.addItem(url, name)
            self.url_combo.addItem(url + "api/notes", name)
        self.url_combo.setEditText(typed or (urls[0][0] if urls else ""))
        self.url_combo.blockSignals(False)
        self._show_start_of_url()

    def _show_start_of_url(self) -> None:
        edit = self.url_combo.lineEdit()
        if edit is not None and not edit.hasFocus():
            edit.setCursorPosition(0)  # the host and port, not the path's end

    def add_header(self, name: str, value: str) -> None:
        self.headers_table.add(name, value)

    def headers(self) -> Headers:
        """The header rows with a name, in order."""
        return self.headers_table.pairs()

    # ---- the engine's state ------------------------------------------------------

    @property
    def view(self) -> ComposerView:
        state = self.state
        view = state.view if state is not None else None
        return view if isinstance(view, ComposerView) else ComposerView()

    @property
    def history(self) -> tuple[Sent, ...]:
        """Every request sent, oldest first (from the engine's state)."""
        return self.view.history

    def show_state(self, state: ClientState) -> None:
        self._show_settings(state)
        busy = bool(state.busy)
        self.send_button.setEnabled(not busy)
        self.send_button.setText("Sending…" if busy else "Send")
        view = self.view
        if view.history != self._history_shown:
            self._show_history(view.history)
        if view.result is not None and view.result is not self.last_result:
            self.show_result(view.result)
        if self._state_seen is not None and not self._state_seen.done():
            self._state_seen.set_result(None)


    def _show_settings(self, state: ClientState) -> None:
        """The settings the engine holds, in the fields; what the user is typing stays."""
        server, host = state.setting("server"), state.setting("host")
        self.target_label.setText(target_text(server, host))
        self.target_label.setVisible(bool(server))
        if (method := self.setting_changed(state, "method", "GET")) is not None:
            set_combo(self.method_combo, method)
        url = self.setting_changed(state, "url",
                                   value=state.setting("url") or start_url(server, host))
        if url:  # none yet: the first running lab server's URL stays
            set_combo(self.url_combo, url)
        headers = self.setting_changed(state, "headers")
        if headers is not None:
            self.headers_table.show_pairs(parse_headers(headers))
        if (mode := self.setting_changed(state, "mode", "raw")) is not None:
            self.mode_combo.setCurrentText(mode)
        if (body := self.setting_changed(state, "body")) is not None:
            set_plain(self.body_edit, body)
        if (dns := self.setting_changed(state, "dns")) is not None:
            self.look_up.check.setChecked(bool(dns))
            if dns:
                set_combo(self.look_up.combo, dns)

    def _show_history(self, history: tuple[Sent, ...]) -> None:
        self._history_shown = history
        self.history_list.clear()
        for sent in history:
            outcome = str(sent.status) if sent.ok else "error"
            item = QListWidgetItem(f"{sent.method} {sent.url}  → {outcome}")
            item.setData(FAILED_ROLE, not sent.ok)
            if not sent.ok:
                item.setForeground(theme.qcolour("bad"))
            item.setToolTip(sent.error or f"{sent.status} {sent.reason}")
            self.history_list.addItem(item)
        self.history_list.scrollToBottom()

    # ---- sending -------------------------------------------------------------------

    def form(self) -> dict[str, str]:
        """The fields as the settings they stand for."""
        return {"method": self.method_combo.currentText().strip().upper() or "GET",
                "url": self.url_combo.currentText().strip(),
                "headers": format_headers(self.headers()),
                "body": self.body_edit.toPlainText(), "mode": self.mode_combo.currentText(),
                "dns": self.look_up.server() or ""}

    def fill(self, sent: Sent) -> None:
        """Put a sent request back into the form."""
        self.method_combo.setEditText(sent.method)
        self.url_combo.setEditText(sent.url)
        self._show_start_of_url()
        self.headers_table.show_pairs(parse_headers(sent.headers))
        self.mode_combo.setCurrentText(sent.mode)
        self.body_edit.setPlainText(sent.body)
        self.look_up.check.setChecked(bool(sent.dns))
        if sent.dns:
            self.look_up.combo.setEditText(sent.dns)

    def _send_clicked(self) -> None:
        # Off until the state says the engine is idle again (show_state): one click,
        # one request. Not a flag cleared by the command's answer, which may come after
        # the state that shows the response.
        if self.send_button.isEnabled():
            self.send_button.setEnabled(False)
            spawn(self.send())

    def _history_activated(self, item: QListWidgetItem) -> None:
        index = self.history_list.row(item)
        if 0 <= index < len(self.history) and self.send_button.isEnabled():
            self.fill(self.history[index])
            self._send_clicked()

    async def added(self) -> None:
        self.url_combo.setFocus()

    async def send(self) -> HttpResult | None:
        """Send what the form says (the engine's ``send`` with the fields as settings);
        the response shows when its state comes. The response once shown; None if
        the request failed or nothing was sent (the error line says why)."""
        before = self.last_result
        outcome = await self.act("send", **self.form())
        if outcome is None:  # the engine refused: no state will come
            self.send_button.setEnabled(True)
        for field in (self.method_combo.lineEdit(), self.url_combo.lineEdit()):
            if field is not None:
                field.setModified(False)
        self.body_edit.document().setModified(False)
        if outcome is None or not outcome.ok:  # the error line says why
            return None
        await self._wait_for_state(lambda: self.last_result is not before)
        return self.last_result

    async def _wait_for_state(self, shown: Any) -> None:
        """Until ``shown()`` is true (a state from the bridge made it so), at most STATE_WAIT."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STATE_WAIT
        while not shown() and loop.time() < deadline:
            self._state_seen = loop.create_future()
            try:
                await asyncio.wait_for(self._state_seen, deadline - loop.time())
            except TimeoutError:
                break
            finally:
                self._state_seen = None

    def _colour_history(self) -> None:
        """The failed requests in the history in red for the look in use."""
        for row in range(self.history_list.count()):
            item = self.history_list.item(row)
            if item.data(FAILED_ROLE):
                item.setForeground(theme.qcolour("bad"))

    def show_result(self, result: HttpResult) -> None:
        """Fill the response tab with ``result`` and bring it to the front."""
        self.last_result = result
        self.tabs.setCurrentIndex(1)
        self.response.show_result(result)
        self._show_start_of_url()

    def describe(self, info: NodeInfo) -> str:
        if getattr(self.state, "busy", ""):
            return super().describe(info)
        result = getattr(self, "last_result", None)
        if result is None:
            return "ready: compose a request and press Send"
        if not result.ok:
            return f"last request failed ({result.method})"
        return f"last: {result.method} → {result.status} {result.reason}"
