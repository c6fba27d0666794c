"""How the HTTP panels show a response: status colours, timing, and a body viewer
that pretty-prints JSON, colours HTML/XML source, shows images and hex-dumps the rest."""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QFont,
    QImage,
    QPixmap,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lab.clients.http import HttpResult, Timing
from lab.model import NodeInfo
from ui import theme
from ui.views.hexview import HexView, fixed_font

#: Text shown in the body pane at most (characters); the rest is summarised.
TEXT_LIMIT = 200_000

#: What a status class means, for its colour and tone (ui.theme).
STATUS_MEANINGS = {2: "good", 3: "info", 4: "warn", 5: "bad"}


def status_meaning(status: int) -> str:
    """good for 2xx, info for 3xx, warn for 4xx, bad for 5xx, faint otherwise."""
    return STATUS_MEANINGS.get(status // 100, "faint")


def status_colour(status: int) -> str:
    """The ``#rrggbb`` of ``status``'s meaning in the look in use."""
    return theme.colour(status_meaning(status))


def format_ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def format_timing(timing: Timing | None) -> str:
    """``connect 0.4 ms · first byte 2.1 ms · total 2.5 ms (reused connection)``."""
    if timing is None:
        return ""
    text = (f"connect {format_ms(timing.connect)} · first byte {format_ms(timing.first_byte)} · "
            f"total {format_ms(timing.total)}")
    return text + (" (reused connection)" if timing.reused else "")


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} byte{'s' if size != 1 else ''}"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / 1024 / 1024:.1f} MB"


@lru_cache(maxsize=64)
def _format(look: theme.Look, meaning: str, bold: bool) -> QTextCharFormat:
    """Text in the colour of ``meaning`` in ``look`` (the look in use: a dark look
    gets light colours)."""
    fmt = QTextCharFormat()
    fmt.setForeground(theme.qcolour(meaning))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    return fmt


#: What each language colours: a pattern, the meaning whose colour it takes, bold.
_MARKUP_RULES = (
    (re.compile(r"</?[A-Za-z][\w:-]*|/?>"), "accent", True),
    (re.compile(r"\s[\w:-]+(?==)"), "warn", False),
    (re.compile(r"\"[^\"]*\"|'[^']*'"), "info", False),
    (re.compile(r"<!--.*?-->|<!DOCTYPE[^>]*>|<\?[^>]*\?>", re.IGNORECASE), "faint", False),
)
_JSON_RULES = (
    (re.compile(r"-?\b\d+(\.\d+)?([eE][+-]?\d+)?\b|\b(true|false|null)\b"), "warn", False),
    (re.compile(r"\"(\\.|[^\"\\])*\""), "good", False),
    (re.compile(r"\"(\\.|[^\"\\])*\"(?=\s*:)"), "info", True),
)


class SourceHighlighter(QSyntaxHighlighter):
    """Colours HTML/XML tags, attributes and strings, or JSON keys and values, in
    the colours of the look in use (the owner calls ``rehighlight`` when it changes).

    A line-by-line colouring with regular expressions: enough for reading a
    response, not a parser (a comment over several lines is not greyed)."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.language = ""

    def set_language(self, language: str) -> None:
        """``"markup"``, ``"json"`` or ``""`` (no colouring)."""
        if language != self.language:
            self.language = language
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        rules = {"markup": _MARKUP_RULES, "json": _JSON_RULES}.get(self.language, ())
        look = theme.current()
        for pattern, meaning, bold in rules:
            fmt = _format(look, meaning, bold)
            for match in pattern.finditer(text):
                self.setFormat(match.start(), match.end() - match.start(), fmt)


def _is_markup(content_type: str) -> bool:
    return content_type in ("text/html", "application/xhtml+xml", "image/svg+xml") or \
        content_type.endswith(("/xml", "+xml"))


def _as_text(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    sample = text[:4096]
    return text if all(c.isprintable() or c in "\r\n\t" for c in sample) else None


class BodyView(QStackedWidget):
    """A response body: text (JSON indented, markup coloured), an image, or hex."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text_view = QPlainTextEdit(self)
        self.text_view.setReadOnly(True)
        self.text_view.setFont(fixed_font())
        self.text_view.setPlaceholderText("The response body shows here.")
        self.highlighter = SourceHighlighter(self.text_view.document())
        theme.on_look_change(self.text_view, self.highlighter.rehighlight)
        self.image_label = QLabel(self)
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_scroll = QScrollArea(self)
        self.image_scroll.setWidget(self.image_label)
        self.image_scroll.setWidgetResizable(True)
        self.hex_view = HexView(self)
        for page in (self.text_view, self.image_scroll, self.hex_view):
            self.addWidget(page)
        self.shown_as = "text"

    def clear_body(self) -> None:
        self.text_view.clear()
        self.highlighter.set_language("")
        self.setCurrentWidget(self.text_view)
        self.shown_as = "text"

    def show_result(self, result: HttpResult) -> None:
        """Show ``result``'s body in the form that suits its Content-Type and bytes."""
        body, kind = result.body, result.content_type
        if not body:
            self.clear_body()
            self.text_view.setPlaceholderText("(no body)" if result.ok else "")
            return
        if kind.startswith("image/") and kind != "image/svg+xml":
            image = QImage.fromData(body)
            if not image.isNull():
                self.image_label.setPixmap(QPixmap.fromImage(image))
                self.image_label.setToolTip(f"{image.width()} × {image.height()} pixels")
                self.setCurrentWidget(self.image_scroll)
                self.shown_as = "image"
                return
        text = _as_text(body)
        if text is None:
            self.hex_view.show_bytes(body[:4096], result.size)
            self.setCurrentWidget(self.hex_view)
            self.shown_as = "hex"
            return
        language = "markup" if _is_markup(kind) else ""
        if kind == "application/json" or kind.endswith("+json"):
            try:
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
                language = "json"
            except ValueError:
                pass
        if len(text) > TEXT_LIMIT:
            text = text[:TEXT_LIMIT] + f"\n… ({format_size(result.size)} in all)"
        self.highlighter.set_language(language)
        self.text_view.setPlainText(text)
        self.setCurrentWidget(self.text_view)
        self.shown_as = language or "text"

    def text(self) -> str:
        return self.text_view.toPlainText() if self.shown_as not in ("image", "hex") else ""


class ResponsePane(QWidget):
    """A response: its status line (toned by its meaning), timing, body and headers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: HttpResult | None = None
        self.status_label = QLabel("No response yet: press Send.", self)
        theme.set_tone(self.status_label, "faint")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.timing_label = QLabel(self)
        theme.set_tone(self.timing_label, "faint")
        self.timing_label.setWordWrap(True)
        theme.on_look_change(self.status_label, self._show_status)
        self.response_tabs = QTabWidget(self)
        self.response_tabs.setDocumentMode(True)
        self.body_view = BodyView(self)
        self.response_headers = QTableWidget(0, 2, self)
        self.response_headers.setHorizontalHeaderLabels(["Header", "Value"])
        self.response_headers.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.response_headers.horizontalHeader().setStretchLastSection(True)
        self.response_headers.verticalHeader().hide()
        self.response_headers.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.response_tabs.addTab(self.body_view, "Body")
        self.response_tabs.addTab(self.response_headers, "Headers")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.status_label)
        layout.addWidget(self.timing_label)
        layout.addWidget(self.response_tabs, 1)

    def show_result(self, result: HttpResult) -> None:
        """Show ``result``: what came back, or that the request failed."""
        self.result = result
        self.response_headers.setRowCount(0)
        self._show_status()
        if not result.ok:
            self.timing_label.setText("")
            self.body_view.clear_body()
            return
        looked_up = f"looked up {result.resolved} · " if result.resolved else ""
        self.timing_label.setText(looked_up + format_timing(result.timing))
        self.response_headers.setRowCount(len(result.headers))
        for row, (name, value) in enumerate(result.headers):
            self.response_headers.setItem(row, 0, QTableWidgetItem(name))
            self.response_headers.setItem(row, 1, QTableWidgetItem(value))
        self.response_tabs.setTabText(1, f"Headers ({len(result.headers)})")
        self.body_view.show_result(result)

    def _show_status(self) -> None:
        """The status line: the status in its meaning's tone, the rest faint."""
        result = self.result
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


def http_server_urls(servers: list[NodeInfo]) -> list[tuple[str, str]]:
    """``(url, name)`` of each running lab HTTP server, e.g. ``http://127.0.0.1:8080/``."""
    return [(f"http://{server.address}/", server.name)
            for server in servers if server.kind == "http" and server.address]
