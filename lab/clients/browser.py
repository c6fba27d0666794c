"""The mini browser: fetch a page, then the CSS, images and scripts it names.

One page is many requests: that is what this client shows. The page and its
resources come over the same HttpClient (so keep-alive connections are reused
the way a browser reuses them); at most six requests run at once, like a
browser's per-host limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin

from lab.clients import Router, Seen
from lab.clients.http import HttpClient, HttpResult, request_url
from lab.model import Outcome

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

PARALLEL = 6


class _Links(HTMLParser):
    """Collects what a page asks the browser to fetch, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.resources: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self.resources.append(a["href"])
        elif tag in ("img", "script") and a.get("src"):
            self.resources.append(a["src"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def page_resources(html: str, base: str) -> tuple[str, list[str]]:
    """The page's title and the absolute URLs of its CSS, images and scripts (no repeats)."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    seen: dict[str, None] = {}
    for ref in parser.resources:
        url = urldefrag(urljoin(base, ref.strip()))[0]
        if url.startswith(("http://", "https://")):
            seen.setdefault(url, None)
    return parser.title.strip(), list(seen)


@dataclass(frozen=True, slots=True)
class Page:
    """A loaded page: the document, each resource's result, in the order named."""

    url: str
    document: HttpResult
    title: str
    resources: tuple[HttpResult, ...]

    @property
    def requests(self) -> int:
        return 1 + len(self.resources)


class Browser:
    """Loads pages with their resources; keeps a back/forward history of URLs."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self.history: list[str] = []
        self.position = -1

    async def load(self, url: str, *, remember: bool = True) -> Page:
        document = await self.http.request("GET", url)
        if remember and document.ok:
            del self.history[self.position + 1:]
            self.history.append(document.url)
            self.position = len(self.history) - 1
        if not document.ok or not document.content_type.startswith("text/html"):
            return Page(document.url, document, "", ())
        html = document.body.decode(_charset(document), errors="replace")
        title, urls = page_resources(html, document.url)
        limit = asyncio.Semaphore(PARALLEL)

        async def fetch(resource: str) -> HttpResult:
            async with limit:
                return await self.http.request("GET", resource)

        results = await asyncio.gather(*(fetch(u) for u in urls))
        return Page(document.url, document, title, tuple(results))

    @property
    def can_go_back(self) -> bool:
        return self.position > 0

    @property
    def can_go_forward(self) -> bool:
        return self.position < len(self.history) - 1

    async def back(self) -> Page | None:
        if not self.can_go_back:
            return None
        self.position -= 1
        return await self.load(self.history[self.position], remember=False)

    async def forward(self) -> Page | None:
        if not self.can_go_forward:
            return None
        self.position += 1
        return await self.load(self.history[self.position], remember=False)

    async def close(self) -> None:
        await self.http.close()

    async def reload(self) -> Page | None:
        if self.position < 0:
            return None
        return await self.load(self.history[self.position], remember=False)


def _charset(result: HttpResult) -> str:
    for name, value in result.headers:
        if name.lower() == "content-type" and "charset=" in value.lower():
            return value.lower().split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
    return "utf-8"


def new_browser(route: Router, seen: Seen) -> Browser:
    """A mini browser with its own request client (the kind's ``make``)."""
    return Browser(HttpClient(route, seen))


# ---- actions (panels and lessons alike: see lab/clients/handle.py) ------------------


@dataclass(frozen=True, slots=True)
class BrowserView:
    """What the browser shows: the page loaded (None before the first), and whether
    back and forward can go anywhere."""

    page: Page | None = None
    can_back: bool = False
    can_forward: bool = False


def _page_outcome(page: Page) -> Outcome:
    doc = page.document
    if doc.error:
        return Outcome(doc.error, {"ok": False, "text": doc.error})
    statuses = ", ".join(str(r.status or r.error) for r in page.resources)
    shown = f"{doc.status} {doc.reason} “{page.title}”: {page.requests} requests"
    return Outcome(shown + (f" (resources: {statuses})" if statuses else ""),
                   {"ok": True, "status": doc.status,
                    "text": doc.body.decode("utf-8", "replace")})


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``open PATH|URL`` (without one, the ``url`` setting), ``back``, ``forward``,
    ``reload``, ``close``. The view is a BrowserView; the ``url`` setting becomes the
    page's address."""
    browser: Browser = handle.obj
    if verb == "close":
        await browser.close()
        return Outcome("closed")
    page: Page | None
    if verb == "open":
        url = request_url(handle, args[0] if args else handle.setting("url") or "/")
        handle.configure({"url": url})
        page = await browser.load(url)
    elif verb == "back":
        page = await browser.back()
    elif verb == "forward":
        page = await browser.forward()
    elif verb == "reload":
        page = await browser.reload()
    else:
        return Outcome(f"the browser cannot {verb!r}", {"ok": False, "text": ""})
    if page is None:
        return Outcome("nowhere to go", {"ok": False, "text": ""})
    shown = page if page.document.ok else handle.state.view and handle.state.view.page
    handle.show(view=BrowserView(shown or None, browser.can_go_back, browser.can_go_forward),
                settings=tuple({**dict(handle.state.settings), "url": page.url}.items()))
    return _page_outcome(page)
