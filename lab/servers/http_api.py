"""The HTTP server's JSON REST API under ``/api/``: notes in a real SQLite database.

    GET    /api/                  a small index of the endpoints
    GET    /api/notes             the notes, paged: ?limit=20&offset=0
    POST   /api/notes             create one: {"title": "...", "body": "..."} → 201 + Location
    GET    /api/notes/{id}        one note
    PUT    /api/notes/{id}        replace a note (title required, body defaults to "")
    PATCH  /api/notes/{id}        change some fields of a note
    DELETE /api/notes/{id}        delete a note → 204

Every error has a JSON body ``{"error": "...", "detail": "..."}`` in plain language:
400 malformed JSON or paging, 404 unknown note or route, 405 wrong method (with
Allow), 409 duplicate title, 413 body too large, 415 not JSON, 422 missing or
invalid fields.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes a request body may have (client_max_size)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_MAX_ID = 2**63 - 1  # SQLite's largest INTEGER

Note = dict[str, Any]

SEED = (
    ("Welcome", "This note came from the lab's SQLite database, through the REST API."),
    ("Try a POST", 'Send {"title": "...", "body": "..."} to /api/notes and watch the table grow.'),
    ("Status codes", "201 Created, 204 No Content, 404 Not Found, 409 Conflict, 422 ..."),
)


@dataclass(frozen=True, slots=True)
class NotesChange:
    """One write to the notes table: ``action`` is created, replaced, updated or deleted;
    ``row`` is the note as it is now (None once deleted)."""

    action: str
    note_id: int
    row: Note | None


NotesListener = Callable[[NotesChange], None]


class DuplicateTitle(Exception):
    """Another note already has this title (the column is UNIQUE)."""


class NotesStore:
    """The ``notes`` table in a SQLite file, seeded with three notes when empty.

    Live view for a UI: ``rows()`` returns every note (by id), and each callable in
    ``on_change`` is called with a :class:`NotesChange` after every successful write
    (POST, PUT, PATCH, DELETE), on the thread running the server's event loop. Use
    ``watch(callback)`` to add one and get back a function that removes it. A listener
    that raises is logged and otherwise ignored: it never fails the request.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.on_change: list[NotesListener] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.row_factory = sqlite3.Row
            with self._db:
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS notes ("
                    " id INTEGER PRIMARY KEY,"
                    " title TEXT UNIQUE NOT NULL,"
                    " body TEXT NOT NULL DEFAULT '',"
                    " created TEXT)")
                if self._db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 0:
                    self._db.executemany(
                        "INSERT INTO notes (title, body, created) VALUES (?, ?, ?)",
                        [(title, body, _now()) for title, body in SEED])
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the notes database {path}: {exc}") from None

    def watch(self, listener: NotesListener) -> Callable[[], None]:
        """Call ``listener`` after each write; returns the function that stops it."""
        self.on_change.append(listener)

        def stop() -> None:
            if listener in self.on_change:
                self.on_change.remove(listener)

        return stop

    def rows(self) -> list[Note]:
        """Every note, ordered by id: what a live table view shows."""
        return [dict(r) for r in self._db.execute("SELECT * FROM notes ORDER BY id")]

    def page(self, limit: int, offset: int) -> tuple[list[Note], int]:
        items = [dict(r) for r in self._db.execute(
            "SELECT * FROM notes ORDER BY id LIMIT ? OFFSET ?", (limit, offset))]
        total: int = self._db.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
        return items, total

    def get(self, note_id: int) -> Note | None:
        if not 0 < note_id <= _MAX_ID:
            return None
        row = self._db.execute("SELECT * FROM notes WHERE id = ?", (note_id,)).fetchone()
        return dict(row) if row is not None else None

    def create(self, title: str, body: str) -> Note:
        try:
            with self._db:
                cursor = self._db.execute(
                    "INSERT INTO notes (title, body, created) VALUES (?, ?, ?)",
                    (title, body, _now()))
        except sqlite3.IntegrityError:
            raise DuplicateTitle(title) from None
        note_id = cursor.lastrowid
        assert note_id is not None
        return self._changed("created", note_id)

    def update(self, note_id: int, fields: dict[str, str], action: str = "updated") -> Note | None:
        """Set ``fields`` (title and/or body) of a note; None if there is no such note."""
        if self.get(note_id) is None:
            return None
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)  # names are checked
            try:
                with self._db:
                    self._db.execute(f"UPDATE notes SET {assignments} WHERE id = ?",
                                     (*fields.values(), note_id))
            except sqlite3.IntegrityError:
                raise DuplicateTitle(fields.get("title", "")) from None
        return self._changed(action, note_id)

    def delete(self, note_id: int) -> bool:
        if self.get(note_id) is None:
            return False
        with self._db:
            self._db.execute("DELETE FROM notes WHERE id = ?", (note_id,))
        self._notify(NotesChange("deleted", note_id, None))
        return True

    def close(self) -> None:
        self._db.close()

    def _changed(self, action: str, note_id: int) -> Note:
        row = self.get(note_id)
        assert row is not None
        self._notify(NotesChange(action, note_id, row))
        return row

    def _notify(self, change: NotesChange) -> None:
        for listener in list(self.on_change):
            try:
                listener(change)
            except Exception:
                log.exception("a notes listener failed on %s", change)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---- the web side -------------------------------------------------------------------


class ApiError(Exception):
    """Becomes a JSON error response: ``{"error": error, "detail": detail}``."""

    def __init__(self, status: int, error: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response({"error": self.error, "detail": self.detail},
                                 status=self.status, headers=self.headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure under /api/ into a JSON error a person can read."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return ApiError(
            405, "method not allowed",
            f"{request.method} is not allowed on {request.path}. This address accepts: "
            f"{allowed}.", {"Allow": allowed}).response()
    except web.HTTPNotFound:
        return ApiError(
            404, "no such endpoint",
            f"There is no API endpoint at {request.path}. GET /api/ lists the ones "
            "there are.").response()
    except web.HTTPRequestEntityTooLarge:
        return _too_large().response()


def _too_large() -> ApiError:
    return ApiError(413, "request body too large",
                    f"This server accepts request bodies up to {MAX_BODY} bytes "
                    f"({MAX_BODY // 1024} KiB). Send less data.")


def _store(request: web.Request) -> NotesStore:
    store: NotesStore = request.config_dict[NOTES_KEY]
    return store


def _note_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _missing(note_id: int) -> ApiError:
    return ApiError(404, "no such note",
                    f"There is no note with id {note_id}. GET /api/notes lists the notes "
                    "there are.")


def _duplicate(title: str) -> ApiError:
    return ApiError(409, "duplicate title",
                    f"A note titled {title!r} already exists, and titles must be unique. "
                    "Choose another title, or change that note with PUT or PATCH.")


def _paging(request: web.Request) -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        text = request.query.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ApiError(400, "bad paging",
                           f"{name} must be a whole number from {low} to {high}; got {text!r}.")
        return value

    return number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), number("offset", 0, 0, _MAX_ID)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or the ApiError (413, 415, 400, 422) saying what is wrong."""
    if request.content_type != "application/json":
        got = request.headers.get("Content-Type", "no Content-Type at all")
        raise ApiError(415, "unsupported media type",
                       f"This endpoint reads JSON: send the body with 'Content-Type: "
                       f"application/json' (the request had {got}).")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _too_large()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large() from None
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed JSON", "The body is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed JSON",
                       f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, "
                       f"column {exc.colno}.") from None
    if not isinstance(value, dict):
        raise ApiError(422, "expected an object",
                       'Send one JSON object, like {"title": "Shopping", "body": "milk"}; '
                       f"this body is a JSON {type(value).__name__}.")
    return value


def _fields(data: dict[str, Any], *, partial: bool) -> dict[str, str]:
    """The title and body to write, checked; ApiError 422 naming what is wrong."""
    unknown = sorted(set(data) - {"title", "body", "id", "created"})
    if unknown:
        raise ApiError(422, "unknown field",
                       f"A note has the fields title and body; {', '.join(unknown)} "
                       "is not one of them.")
    fields: dict[str, str] = {}
    for name in ("title", "body"):
        if name not in data:
            continue
        if not isinstance(data[name], str):
            raise ApiError(422, "invalid field",
                           f"{name} must be a string of text, not "
                           f"{type(data[name]).__name__}.")
        fields[name] = data[name]
    if "title" in fields and not fields["title"].strip():
        raise ApiError(422, "invalid field", "title must not be empty.")
    if not partial and "title" not in fields:
        raise ApiError(422, "missing field", "A note needs a title: send {\"title\": \"...\"}.")
    if partial and not fields:
        raise ApiError(422, "missing field",
                       "PATCH changes some fields of a note: send title, body, or both.")
    if not partial:
        fields.setdefault("body", "")
    return fields


async def api_index(request: web.Request) -> web.Response:
    return web.json_response({
        "about": "A JSON REST API over the notes table of a SQLite database.",
        "endpoints": [
            {"method": "GET", "path": "/api/notes", "does": "list notes; ?limit=&offset="},
            {"method": "POST", "path": "/api/notes", "does": "create a note: title, body"},
            {"method": "GET", "path": "/api/notes/{id}", "does": "read one note"},
            {"method": "PUT", "path": "/api/notes/{id}", "does": "replace a note"},
            {"method": "PATCH", "path": "/api/notes/{id}", "does": "change some fields"},
            {"method": "DELETE", "path": "/api/notes/{id}", "does": "delete a note"},
        ],
    })


async def list_notes(request: web.Request) -> web.Response:
    limit, offset = _paging(request)
    items, total = _store(request).page(limit, offset)
    return web.json_response({"items": items, "total": total, "limit": limit, "offset": offset})


async def create_note(request: web.Request) -> web.Response:
    fields = _fields(await _json_object(request), partial=False)
    try:
        note = _store(request).create(fields["title"], fields["body"])
    except DuplicateTitle:
        raise _duplicate(fields["title"]) from None
    return web.json_response(note, status=201,
                             headers={"Location": f"/api/notes/{note['id']}"})


async def get_note(request: web.Request) -> web.Response:
    note_id = _note_id(request)
    note = _store(request).get(note_id)
    if note is None:
        raise _missing(note_id)
    return web.json_response(note)


async def _change(request: web.Request, partial: bool) -> web.Response:
    note_id = _note_id(request)
    store = _store(request)
    if store.get(note_id) is None:
        raise _missing(note_id)
    fields = _fields(await _json_object(request), partial=partial)
    try:
        note = store.update(note_id, fields, "updated" if partial else "replaced")
    except DuplicateTitle:
        raise _duplicate(fields.get("title", "")) from None
    if note is None:
        raise _missing(note_id)
    return web.json_response(note)


async def replace_note(request: web.Request) -> web.Response:
    return await _change(request, partial=False)


async def patch_note(request: web.Request) -> web.Response:
    return await _change(request, partial=True)


async def delete_note(request: web.Request) -> web.Response:
    note_id = _note_id(request)
    if not _store(request).delete(note_id):
        raise _missing(note_id)
    return web.Response(status=204)


NOTES_KEY = web.AppKey("notes", NotesStore)


def api_app(store: NotesStore) -> web.Application:
    """The sub-application mounted at /api/."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app[NOTES_KEY] = store
    app.router.add_get("/", api_index)
    app.router.add_get("/notes", list_notes)
    app.router.add_post("/notes", create_note)
    app.router.add_get(r"/notes/{id:\d+}", get_note)
    app.router.add_put(r"/notes/{id:\d+}", replace_note)
    app.router.add_patch(r"/notes/{id:\d+}", patch_note)
    app.router.add_delete(r"/notes/{id:\d+}", delete_note)
    return app
