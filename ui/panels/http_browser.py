"""The mini browser: an address bar, back/forward/reload, and the page rendered by a
QTextBrowser from what the lab's Browser fetched (the page, its CSS, its images).

The QTextBrowser never fetches anything itself: every image and stylesheet it may
ask for comes from the Page the engine loaded, so the inspector shows each request
the page needed, and only those.

The panel shows the engine's ClientState only: the address bar the ``url`` setting,
the page and the back/forward buttons the BrowserView. Its buttons run the kind's
actions (open, back, forward, reload), as a lesson's steps do."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urldefrag, urljoin

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QImage, QKeySequence, QShortcut, QTextDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTextBrowser,
    QToolButton,
    QWidget,
)

from lab.clients.browser import BrowserView, Page
from lab.clients.http import HttpResult
from lab.model import ClientState, NodeInfo, Outcome
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext
from ui.panels.http_body import format_size, http_server_urls, status_meaning
from ui.panels.http_request import set_line, start_url

Resource = QTextDocument.ResourceType


def _key(url: str) -> str:
    return urldefrag(url)[0]


def _text_of(result: HttpResult) -> str:
    return result.body.decode("utf-8", errors="replace")


class PageView(QTextBrowser):
    """Renders one page from bytes already fetched; asks the network for nothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.base = ""
        self._resources: dict[str, QImage | str] = {}

    def show_page(self, page: Page) -> None:
        """Render ``page`` with its stylesheets and images (fetched by the engine)."""
        self.base = page.url
        self._resources.clear()
        sheets = []
        document = self.document()
        document.clear()
        document.setBaseUrl(QUrl(page.url))
        for result in page.resources:
            if not result.ok or result.status >= 400:
                continue
            if result.content_type == "text/css":
                sheets.append(_text_of(result))
                self._resources[_key(result.url)] = _text_of(result)
                document.addResource(Resource.StyleSheetResource, QUrl(result.url),
                                     _text_of(result))
            else:
                image = QImage.fromData(result.body)
                if not image.isNull():
                    self._resources[_key(result.url)] = image
                    document.addResource(Resource.ImageResource, QUrl(result.url), image)
        document.setDefaultStyleSheet("\n".join(sheets))
        doc = page.document
        if doc.content_type.startswith("image/"):
            image = QImage.fromData(doc.body)
            self._resources[_key(doc.url)] = image
            self.setHtml(f'<img src="{html.escape(doc.url)}">')
        elif doc.content_type.startswith("text/html") or not doc.content_type:
            self.setHtml(_text_of(doc))
        else:
            self.setPlainText(_text_of(doc))

    def loadResource(self, kind: int, name: QUrl | str) -> Any:
        """Only what the engine fetched: never the file system, never the network."""
        text = name.toString() if isinstance(name, QUrl) else name
        return self._resources.get(_key(urljoin(self.base, text)))


class HttpBrowserPanel(NodePanel):
    """A browser small enough to read: one page is many requests, and you see them."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Remove this browser")
        self.page: Page | None = None
        self._applied_url: str | None = None
        self.back_button = self._tool("◀", "Back (Alt+Left)", "Alt+Left", "back")
        self.forward_button = self._tool("▶", "Forward (Alt+Right)", "Alt+Right", "forward")
        self.reload_button = self._tool("⟳", "Reload (F5)", "F5", "reload")
        self.address = QLineEdit(self)
        self.address.setPlaceholderText("http://127.0.0.1:8080/")
        self.address.setToolTip("The page to load; Enter goes there")
        self.address.returnPressed.connect(self._go_clicked)
        self.go_button = QToolButton(self)
        self.go_button.setText("Go")
        self.go_button.setToolTip("Load the address (Enter)")
        self.go_button.clicked.connect(self._go_clicked)
        row = QHBoxLayout()
        row.setSpacing(2)
        for button in (self.back_button, self.forward_button, self.reload_button):
            row.addWidget(button)
        row.addWidget(self.address, 1)
        row.addWidget(self.go_button)
        self.view = PageView(self)
        self.view.setMinimumHeight(260)
        self.view.anchorClicked.connect(self._link_clicked)
        self.requests_label = QLabel("No page yet: type an address and press Enter.", self)
        theme.set_tone(self.requests_label, "faint")
        self.requests_label.setWordWrap(True)
        theme.on_look_change(self.requests_label, self._show_requests)
        self.body.addLayout(row)
        self.body.addWidget(self.view, 1)
        self.body.addWidget(self.requests_label)
        self._show_buttons(BrowserView())
        self.finish_layout()
        context.bridge.node_changed.connect(self._servers_changed)
        self._servers_changed()

    def _tool(self, text: str, tip: str, keys: str, verb: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: self._navigate(verb))
        shortcut = QShortcut(QKeySequence(keys), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(lambda: self._navigate(verb))
        return button

    def _servers_changed(self, *_: object) -> None:
        """Until there is an address (typed or set), the first running lab HTTP server's."""
        urls = http_server_urls(self.context.bridge.running_servers())
        if not self.address.text() and urls:
            self.address.setText(urls[0][0])
            self.address.setCursorPosition(0)

    # ---- the engine's state --------------------------------------------------------

    @property
    def browser_view(self) -> BrowserView:
        view = getattr(self.state, "view", None)
        return view if isinstance(view, BrowserView) else BrowserView()

    def show_state(self, state: ClientState) -> None:
        url = state.setting("url") or start_url(state.setting("server"),
                                                state.setting("host"))
        if url != self._applied_url:  # a new address from the engine
            self._applied_url = url
            if url:
                set_line(self.address, url)
        view = self.browser_view
        if view.page is not None and view.page is not self.page:
            self.page = view.page
            self.view.show_page(view.page)
        self._show_buttons(view)
        self._show_requests()

    def _show_buttons(self, view: BrowserView) -> None:
        idle = not getattr(self.state, "busy", "")
        self.back_button.setEnabled(idle and view.can_back)
        self.forward_button.setEnabled(idle and view.can_forward)
        self.reload_button.setEnabled(idle and view.page is not None)

    # ---- navigation ----------------------------------------------------------------

    def _go_clicked(self) -> None:
        spawn(self.load(self.address.text().strip()))

    def _navigate(self, verb: str) -> None:
        if not getattr(self.state, "busy", ""):
            spawn(self.act(verb))

    def _link_clicked(self, link: QUrl) -> None:
        target = link.toString()
        if target.startswith("#"):
            self.view.scrollToAnchor(target[1:])
            return
        absolute = urljoin(self.view.base or self.address.text(), target)
        if not absolute.startswith(("http://", "https://")):
            self.show_error(f"The mini browser follows http:// links only, not {target}")
            return
        spawn(self.load(absolute))

    async def added(self) -> None:
        self.address.setFocus()

    async def load(self, url: str) -> Outcome | None:
        """Open ``url`` (the kind's ``open``); the page shows when its state comes."""
        self.address.setText(url)
        self.address.setModified(False)
        return await self.act("open", url)

    def _show_requests(self) -> None:
        if getattr(self.state, "busy", ""):
            self.requests_label.setText("Loading…")
            return
        page = self.page
        if page is None:
            self.requests_label.setText("No page yet: type an address and press Enter.")
            return
        count = len(page.resources)
        failed = sum(1 for r in page.resources if not r.ok or r.status >= 400)
        text = (f"1 page + {count} resource{'s' if count != 1 else ''} = "
                f"{page.requests} request{'s' if page.requests != 1 else ''}")
        if failed:
            text += f" ({failed} failed)"
        self.requests_label.setText(text)
        lines = [self._line(page.document)] + [self._line(r) for r in page.resources]
        self.requests_label.setToolTip("<br>".join(lines))

    @staticmethod
    def _line(result: HttpResult) -> str:
        if not result.ok:
            return theme.span(f"✕ {html.escape(result.url)}: {html.escape(result.error)}",
                              "bad")
        what = html.escape(result.content_type or "?")
        return (theme.span(f"<b>{result.status}</b>", status_meaning(result.status))
                + f" {html.escape(result.url)} "
                + theme.span(f"({what}, {format_size(result.size)})", "faint"))

    def describe(self, info: NodeInfo) -> str:
        if getattr(self.state, "busy", ""):
            return super().describe(info)
        page = getattr(self, "page", None)
        if page is None:
            return "no page loaded"
        status = page.document.status
        return f"{status} {page.document.reason} · {page.title or page.url}"

    def page_text(self) -> str:
        return self.view.toPlainText()
