"""The request composer, a small Postman: method, URL, headers, body; the response
with its status, headers, pretty body and timing; a history to send again."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lab.clients.http import HttpResult
from lab.engine import EngineError
from lab.model import NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext
from ui.panels.dns_client import LookUpFirst
from ui.panels.http_body import (
    BodyView,
    format_size,
    format_timing,
    http_server_urls,
    status_meaning,
)
from ui.panels.http_request import (
    METHODS,
    MODES,
    Headers,
    SentRequest,
    encode_body,
    send_on_engine,
)

HISTORY_LIMIT = 100
#: A history item's flag: the request failed (shown in red).
FAILED_ROLE = Qt.ItemDataRole.UserRole + 1


class HttpComposerPanel(NodePanel):
    """Compose an HTTP request, send it through the lab, read the response."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Remove this request composer")
        self.history: list[SentRequest] = []
        self.last_result: HttpResult | None = None
        self._busy = False
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
        context.bridge.node_changed.connect(self._servers_changed)
        context.bridge.node_removed.connect(self._servers_changed)
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

    def _make_request_tab(self) -> QWidget:
        page = QWidget(self)
        self.headers_table = QTableWidget(0, 2, page)
        self.headers_table.setHorizontalHeaderLabels(["Header", "Value"])
        self.headers_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        self.headers_table.verticalHeader().hide()
        self.headers_table.setToolTip("Headers to send; Host and Content-Length are added "
                                      "for you")
        add = QToolButton(page)
        add.setText("+")
        add.setToolTip("Add a header row")
        add.clicked.connect(lambda: self.add_header("", ""))
        remove = QToolButton(page)
        remove.setText("−")
        remove.setToolTip("Remove the selected header row")
        remove.clicked.connect(self._remove_header)
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
        page = QWidget(self)
        self.status_label = QLabel("No response yet: press Send.", page)
        theme.set_tone(self.status_label, "faint")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.timing_label = QLabel(page)
        theme.set_tone(self.timing_label, "faint")
        self.timing_label.setWordWrap(True)
        theme.on_look_change(self.status_label, self._show_status)
        self.response_tabs = QTabWidget(page)
        self.response_tabs.setDocumentMode(True)
        self.body_view = BodyView(page)
        self.response_headers = QTableWidget(0, 2, page)
        self.response_headers.setHorizontalHeaderLabels(["Header", "Value"])
        self.response_headers.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.response_headers.horizontalHeader().setStretchLastSection(True)
        self.response_headers.verticalHeader().hide()
        self.response_headers.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.response_tabs.addTab(self.body_view, "Body")
        self.response_tabs.addTab(self.response_headers, "Headers")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.status_label)
        layout.addWidget(self.timing_label)
        layout.addWidget(self.response_tabs, 1)
        return page

    def _make_history_tab(self) -> QWidget:
        self.history_list = QListWidget(self)
        self.history_list.setToolTip("Double-click a request to fill the form and send it "
                                     "again")
        self.history_list.itemActivated.connect(self._history_activated)
        theme.on_look_change(self.history_list, self._colour_history)
        return self.history_list

    # ---- servers -------------------------------------------------------------------

    def refresh_urls(self) -> None:
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

    def _servers_changed(self, *_: object) -> None:
        self.refresh_urls()

    # ---- headers -------------------------------------------------------------------

    def add_header(self, name: str, value: str) -> None:
        row = self.headers_table.rowCount()
        self.headers_table.insertRow(row)
        self.headers_table.setItem(row, 0, QTableWidgetItem(name))
        self.headers_table.setItem(row, 1, QTableWidgetItem(value))
        item = self.headers_table.item(row, 0)
        if not name and item is not None:
            self.headers_table.setCurrentCell(row, 0)
            self.headers_table.editItem(item)

    def _remove_header(self) -> None:
        row = self.headers_table.currentRow()
        if row >= 0:
            self.headers_table.removeRow(row)

    def headers(self) -> Headers:
        """The header rows with a name, in order."""
        found = []
        for row in range(self.headers_table.rowCount()):
            name, value = (self.headers_table.item(row, col) for col in (0, 1))
            key = name.text().strip() if name is not None else ""
            if key:
                found.append((key, value.text().strip() if value is not None else ""))
        return found

    # ---- sending -------------------------------------------------------------------

    def fill(self, request: SentRequest) -> None:
        """Put a sent request back into the form."""
        self.method_combo.setEditText(request.method)
        self.url_combo.setEditText(request.url)
        self._show_start_of_url()
        self.headers_table.setRowCount(0)
        for name, value in request.headers:
            self.add_header(name, value)
        self.mode_combo.setCurrentText(request.mode)
        self.body_edit.setPlainText(request.body)

    def _send_clicked(self) -> None:
        if not self._busy:
            spawn(self.send())

    def _history_activated(self, item: QListWidgetItem) -> None:
        index = self.history_list.row(item)
        if 0 <= index < len(self.history) and not self._busy:
            self.fill(self.history[index])
            spawn(self.send())

    async def added(self) -> None:
        self.url_combo.setFocus()

    async def send(self) -> HttpResult | None:
        """Send what the form says; show the response (or the error, inline)."""
        request = SentRequest(
            method=self.method_combo.currentText().strip().upper() or "GET",
            url=self.url_combo.currentText().strip(), headers=tuple(self.headers()),
            body=self.body_edit.toPlainText(), mode=self.mode_combo.currentText())
        try:
            body, content_type = encode_body(request.body, request.mode)
        except ValueError as exc:
            self.show_error(str(exc))
            self.tabs.setCurrentIndex(0)
            return None
        headers = list(request.headers)
        if content_type and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", content_type))
        self.show_error("")
        self._set_busy(True)
        lab = self.context.lab
        try:
            result = await lab.call(send_on_engine, lab.engine, self.node_id,
                                    request.method, request.url, headers, body,
                                    self.look_up.server())
        except EngineError as exc:
            self.show_error(str(exc))
            return None
        finally:
            self._set_busy(False)
        self._remember(request, result)
        self.show_result(result)
        self._show_start_of_url()
        return result

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.send_button.setEnabled(not busy)
        self.send_button.setText("Sending…" if busy else "Send")

    def _remember(self, request: SentRequest, result: HttpResult) -> None:
        self.history.append(request)
        outcome = str(result.status) if result.ok else "error"
        item = QListWidgetItem(f"{request.method} {request.url}  → {outcome}")
        item.setData(FAILED_ROLE, not result.ok)
        if not result.ok:
            item.setForeground(theme.qcolour("bad"))
        item.setToolTip(result.error or f"{result.status} {result.reason}")
        self.history_list.addItem(item)
        if len(self.history) > HISTORY_LIMIT:
            del self.history[0]
            self.history_list.takeItem(0)
        self.history_list.scrollToBottom()

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
        self.response_headers.setRowCount(0)
        self._show_status()
        if not result.ok:
            self.timing_label.setText("")
            self.body_view.clear_body()
            self.show_error(result.error)
            self.update_node(self.info)
            return
        looked_up = f"looked up {result.resolved} · " if result.resolved else ""
        self.timing_label.setText(looked_up + format_timing(result.timing))
        self.response_headers.setRowCount(len(result.headers))
        for row, (name, value) in enumerate(result.headers):
            self.response_headers.setItem(row, 0, QTableWidgetItem(name))
            self.response_headers.setItem(row, 1, QTableWidgetItem(value))
        self.response_tabs.setTabText(1, f"Headers ({len(result.headers)})")
        self.body_view.show_result(result)
        self.update_node(self.info)

    def _show_status(self) -> None:
        """The status line: the status in its meaning's tone, the rest faint."""
        result = self.last_result
        if result is None:
            return
        if not result.ok:
            self.status_label.setText(f"{result.method} {html.escape(result.url)} failed")
            theme.set_tone(self.status_label, "bad")
            return
        self.status_label.setText(
            f"<b>{result.status} {html.escape(result.reason)}</b> &nbsp;" + theme.span(
                f"{result.version} · {html.escape(result.content_type or 'no Content-Type')}"
                f" · {format_size(result.size)}", "faint"))
        theme.set_tone(self.status_label, status_meaning(result.status))

    def describe(self, info: NodeInfo) -> str:
        result = getattr(self, "last_result", None)
        if result is None:
            return "ready: compose a request and press Send"
        if not result.ok:
            return f"last request failed ({result.method})"
        return f"last: {result.method} → {result.status} {result.reason}"

    def status_text(self) -> str:
        """The status line as plain text (tests read it)."""
        result = self.last_result
        if result is None or not result.ok:
            return ""
        return f"{result.status} {result.reason}"

