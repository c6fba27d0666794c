"""The HTTP server: a static site from a folder plus a JSON REST API on SQLite.

aiohttp serves on 127.0.0.1 at a port the system picks; the user reaches it
through its Wire. Options (all optional):

    root   the folder to serve (default: the sample site in resources/site/)
    db     the SQLite file of the notes API (default: notes.sqlite3 in the data dir)

Static files are served by our own handler, so every rule is visible here:
Content-Type from the file name, ETag and Last-Modified, conditional GET (304),
HEAD, single byte ranges (206 / 416), no directory listings, and pages that
explain 403, 404 and 405. It never serves a file outside its root: the raw
request target is decoded once and refused if it holds ``..``, a backslash, a
NUL byte or an empty segment (``//``), and the resolved path (symlinks
followed) must still lie inside the root.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import html
import mimetypes
import os
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from lab.paths import data_dir, site_dir
from lab.servers import Backend, quiet_client_faults
from lab.servers.http_api import MAX_BODY, NotesListener, NotesStore, api_app, api_index
from lab.servers.http_conn import HalfCloseRunner, no_switch, proposes_switch

CHUNK = 64 * 1024
# A request aiohttp rejects gets its 400 and shows in the capture; no traceback on stderr.
quiet_client_faults("aiohttp.server", HttpProcessingError)
ALLOWED = "GET, HEAD"
DB_NAME = "notes.sqlite3"


# ---- pages that explain themselves ---------------------------------------------------

def page(status: int, title: str, *paragraphs: str,
         headers: dict[str, str] | None = None) -> web.Response:
    """A small HTML page: what happened and what to try (paragraphs are HTML).

    aiohttp leaves the body out (keeping Content-Length) when answering HEAD."""
    body = "\n".join(f"  <p>{p}</p>" for p in paragraphs)
    text = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
            f"<title>{status} {html.escape(title)}</title></head>\n"
            f"<body style=\"font-family: sans-serif; max-width: 40rem; margin: 2rem auto\">\n"
            f"  <h1>{status} {html.escape(title)}</h1>\n{body}\n"
            f"  <p><a href=\"/\">Go to the home page</a></p>\n</body>\n</html>\n")
    return web.Response(status=status, headers=headers, text=text,
                        content_type="text/html", charset="utf-8")


def forbidden(request: web.Request, why: str) -> web.Response:
    return page(403, "Forbidden",
                f"The server refused to look up <code>{html.escape(request.raw_path)}</code>: "
                f"{why}",
                "A web server only serves files inside its own folder (its root); addresses "
                "that try to climb out of it are refused, whatever file they name.")


def not_found(request: web.Request, shown: str, *extra: str) -> web.Response:
    return page(404, "Not Found",
                f"The server looked for <code>{html.escape(shown)}</code> in its site folder "
                "and found no such file.",
                *extra,
                "Check the spelling (names are case-sensitive), or start again from the "
                "home page and follow a link.")


def method_not_allowed(request: web.Request) -> web.Response:
    return page(405, "Method Not Allowed",
                f"This server only reads files: it answers GET and HEAD for "
                f"<code>{html.escape(request.path)}</code>, and a "
                f"<code>{html.escape(request.method)}</code> request cannot change or "
                "create them.",
                "To read the page, send GET (what a browser does when you open the address). "
                "To store data, use the JSON API under <a href=\"/api/\">/api/</a>. The "
                "<code>Allow</code> header of this response lists the methods that work here.",
                headers={"Allow": ALLOWED})


# ---- where a request target leads ----------------------------------------------------

def origin_path(raw_path: str) -> str:
    """The path (and query) of a request target: an absolute-form target
    (``http://host/a``, RFC 9112 §3.2.2, which a server must accept) names ``/a``."""
    if raw_path.startswith("/") or "://" not in raw_path:
        return raw_path
    try:
        url = URL(raw_path, encoded=True)
    except ValueError:
        return raw_path
    if url.scheme.lower() not in ("http", "https") or not url.host:
        return raw_path
    path = url.raw_path or "/"
    return f"{path}?{url.raw_query_string}" if url.raw_query_string else path


def resolve_target(root: Path, raw_path: str) -> Path | str:
    """The file ``raw_path`` names inside ``root`` (already resolved), or why it is refused.

    ``raw_path`` is the request target as it came off the wire (aiohttp's ``path`` is
    already decoded and normalised, which would hide ``%2e%2e`` and ``%2f``).
    """
    target = origin_path(raw_path).split("?", 1)[0].split("#", 1)[0]
    if not target.startswith("/"):
        return "the address does not start with /."
    try:
        decoded = unquote(target, errors="strict")
    except UnicodeDecodeError:
        return "the address is not valid UTF-8 once its %-escapes are decoded."
    if "\x00" in decoded:
        return "the address holds a NUL byte (%00), which no file name may contain."
    if "\\" in decoded:
        return "the address holds a backslash, which this server does not accept in paths."
    parts = decoded[1:].split("/")
    if ".." in parts:
        return "the address holds a '..' segment, which would lead out of the site folder."
    if any(p == "" for p in parts[:-1]):
        return "the address holds an empty segment ('//'), which could name an absolute path."
    candidate = root.joinpath(*[p for p in parts if p not in ("", ".")])
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop, say
        return "the address leads through a broken link."
    if not resolved.is_relative_to(root):
        return "the address leads (through a link) to a file outside the site folder."
    return resolved


# ---- validators and ranges -----------------------------------------------------------

def etag_for(stat: os.stat_result) -> str:
    digest = hashlib.blake2s(f"{stat.st_size}-{stat.st_mtime_ns}".encode(), digest_size=8)
    return f'"{digest.hexdigest()}"'


def _http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def _parse_date(text: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _still_valid(if_range: str, etag: str, mtime: float) -> bool:
    """If-Range: an ETag must match exactly, a date must be no older than the file."""
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return if_range == etag
    since = _parse_date(if_range)
    return since is not None and int(mtime) <= since


def not_modified(request: web.Request, etag: str, mtime: float) -> bool:
    """Whether the client's cached copy is current (If-None-Match wins over
    If-Modified-Since, as RFC 9110 says)."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        return _etag_matches(inm, etag)
    ims = request.headers.get("If-Modified-Since")
    if ims is not None:
        since = _parse_date(ims)
        return since is not None and int(mtime) <= since
    return False


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(first, last) for a satisfiable single range; None to send the whole file (no
    header, several ranges, or one we do not understand); False when unsatisfiable."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first_text == "":  # the last N bytes
            count = int(last_text)
            if count <= 0:
                return False
            return max(0, size - count), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        return None
    if first < 0 or last < first:
        return None
    if first >= size:
        return False
    return first, min(last, size - 1)


# ---- the static handler ----------------------------------------------------------------

class StaticSite:
    """Serves the files under ``root`` (GET and HEAD only)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed(request)
        found = resolve_target(self.root, request.raw_path)
        if isinstance(found, str):
            return forbidden(request, found)
        try:
            path = self._file_for(request, found)
        except OSError:  # a name too long, a permission denied: nothing to serve
            path = None
        if isinstance(path, web.StreamResponse):
            return path
        if path is None:
            return not_found(request, request.path)
        try:
            stream = path.open("rb")
        except OSError:
            return not_found(request, request.path)
        with stream:
            return await self._send(request, path, stream)

    def _file_for(self, request: web.Request, path: Path) -> Path | web.StreamResponse | None:
        """The file to send, a page saying why there is none, or None (no such file)."""
        if path.is_dir():
            target = origin_path(request.raw_path).split("?", 1)[0]
            if not target.endswith("/"):
                location = target + "/"
                raise web.HTTPMovedPermanently(location)
            path = path / "index.html"
            if not path.is_file():
                return not_found(request, request.path + "index.html",
                                 "This is a folder without an <code>index.html</code>, and "
                                 "this server does not list folders' contents.")
        if not path.is_file() or not path.resolve().is_relative_to(self.root):
            return None
        return path

    async def _send(self, request: web.Request, path: Path,
                    stream: BinaryIO) -> web.StreamResponse:
        stat = os.fstat(stream.fileno())
        size = stat.st_size
        etag = etag_for(stat)
        content_type, encoding = mimetypes.guess_type(path.name)
        headers = {
            "ETag": etag,
            "Last-Modified": _http_date(stat.st_mtime),
            "Cache-Control": "no-cache",  # keep asking, so a reload shows 304s
            "Accept-Ranges": "bytes",
        }
        if not_modified(request, etag, stat.st_mtime):
            return web.Response(status=304, headers=headers)

        wanted = byte_range(request.headers.get("Range"), size)
        if_range = request.headers.get("If-Range")
        if wanted is not None and if_range is not None and not _still_valid(
                if_range, etag, stat.st_mtime):
            wanted = None  # the client's partial copy is stale: send it all
        if wanted is False:
            headers["Content-Range"] = f"bytes */{size}"
            return page(416, "Range Not Satisfiable",
                        f"The request asked for bytes ({html.escape(request.headers['Range'])}) "
                        f"that this file does not have: it is {size} bytes long.",
                        "Ask for a range inside the file, or leave out the Range header to "
                        "get all of it.", headers=headers)
        status, first, last = 200, 0, size - 1
        if isinstance(wanted, tuple):
            status, (first, last) = 206, wanted
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"

        response = web.StreamResponse(status=status, headers=headers)
        if proposes_switch(request):
            response.force_close()  # see no_switch
        response.content_type = content_type or "application/octet-stream"
        if content_type is not None and (content_type.startswith("text/")
                                         or content_type in ("application/javascript",
                                                             "image/svg+xml")):
            response.charset = "utf-8"
        if encoding is not None:
            response.headers["Content-Encoding"] = encoding
        response.content_length = last - first + 1 if size else 0
        await response.prepare(request)
        if request.method == "GET" and size:
            await self._copy(stream, response, first, last - first + 1)
        await response.write_eof()
        return response

    @staticmethod
    async def _copy(stream: BinaryIO, response: web.StreamResponse, start: int,
                    count: int) -> None:
        stream.seek(start)
        while count > 0:
            chunk = await asyncio.to_thread(stream.read, min(CHUNK, count))
            if not chunk:
                break
            count -= len(chunk)
            await response.write(chunk)


# ---- the backend -----------------------------------------------------------------------

class HttpBackend:
    """A running HTTP server: aiohttp on 127.0.0.1 at ``address``.

    For a UI that shows the notes table live: ``rows()`` is the table now, and
    ``notes.watch(callback)`` (or ``on_change.append``) calls ``callback(change)`` with a
    :class:`lab.servers.http_api.NotesChange` after every write, on the engine's loop.
    """

    def __init__(self, root: Path, db: Path) -> None:
        self.root = root
        self.db = db
        self.notes = NotesStore(db)
        self.site = StaticSite(root)
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._runner: web.AppRunner | None = None

    @property
    def on_change(self) -> list[NotesListener]:
        return self.notes.on_change

    def rows(self) -> list[dict[str, object]]:
        return self.notes.rows()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[no_switch])
        app.router.add_get("/api", api_index)
        app.add_subapp("/api/", api_app(self.notes))
        app.router.add_route("*", "/{tail:.*}", self.site.handle)
        return app

    async def start(self) -> None:
        self._runner = HalfCloseRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.address = self._runner.addresses[0][:2]

    async def close(self) -> None:
        """Stop listening, end open connections and close the database."""
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            self.notes.close()


def root_option(options: dict[str, str]) -> Path:
    root = Path(options["root"]).expanduser() if options.get("root") else site_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"the site folder {root} does not exist or is not a folder")
    return root.resolve()


async def start_http(options: dict[str, str]) -> Backend:
    root = root_option(options)
    db = Path(options["db"]).expanduser() if options.get("db") else data_dir() / DB_NAME
    backend = HttpBackend(root, db)
    try:
        await backend.start()
    except BaseException:
        await backend.close()
        raise
    return backend
