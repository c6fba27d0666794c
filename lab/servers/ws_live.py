"""The chat server's live data (lab/servers/live.py): who is in the room, how many
messages it has carried and its message size limit, as a RoomView."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the UI imports the views, not the servers' libraries
    from lab.servers.ws import ChatBackend


@dataclass(frozen=True, slots=True)
class RoomView:
    """The room: its members in the order they joined, its message count, its limit."""

    members: tuple[str, ...]
    messages: int
    max_size: int


def view(backend: ChatBackend) -> RoomView:
    return RoomView(tuple(backend.members()), backend.messages, backend.max_size)


def watch(backend: ChatBackend, changed: Callable[[], None]) -> Callable[[], None]:
    """Call ``changed`` after each join, leave and message."""
    return backend.watch(lambda _event: changed())
