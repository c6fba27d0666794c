"""The HTTP server's live data (lab/servers/live.py): the folder it serves and the
REST API's ``notes`` table, as a NotesView, so a class sees a POST change it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the UI imports the views, not the servers' libraries
    from lab.servers.http import HttpBackend


@dataclass(frozen=True, slots=True)
class NoteRow:
    """One row of the notes table as the panel shows it."""

    id: int
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class NotesView:
    """The site folder served at / and the notes table, by id."""

    root: str
    notes: tuple[NoteRow, ...]


def view(backend: HttpBackend) -> NotesView:
    rows = tuple(NoteRow(int(str(r.get("id", 0))), str(r.get("title", "")),
                         str(r.get("body", ""))) for r in backend.rows())
    return NotesView(str(backend.root), rows)


def watch(backend: HttpBackend, changed: Callable[[], None]) -> Callable[[], None]:
    """Call ``changed`` after each write to the notes table (POST, PUT, PATCH, DELETE)."""
    return backend.notes.watch(lambda _change: changed())
