"""Hold-and-step: a Wire in step mode holds what it receives until the user acts.

What is held is one *chunk*: the bytes one read of a socket (or one datagram)
brought to the Wire, with the Messages the dissector made of them flagged
``held``. A chunk, not a dissected message, because the dissectors report what
they saw (sizes, a prefix of a long body) rather than exact byte boundaries:
holding the chunk keeps every byte whole and in order, and a small request or
reply (curl's GET, an SMTP command) arrives as one chunk anyway. While a TCP
chunk is held the Wire stops reading that socket, so a connection has at most
one held chunk per direction and nothing can overtake it.

The user then forwards it (as it is or edited) or drops it. Each Wire keeps a
``HoldQueue``, which a connection's Tap (lab/wire/tap.py) fills; the engine's
wire board (lab/wire/board.py) finds a held chunk by the id of its Message.

Lab clients ask their engine's patience (the wire board's ``patient``, given
them with their ``Routes``) for a timeout when they start a request: while a Wire
of their engine steps, their timeouts are an hour, so a held message does not
make them give up (lab/hold.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lab.model import Sender


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldMessage:
    """A chunk a Wire holds, as the UI shows it. ``id`` is its Message's id (the
    last Message made from it), ``node`` the Wire's node (or relay id)."""

    id: int
    node: str
    connection: str
    sender: Sender
    summary: str
    data: bytes
    time: float


@dataclass(frozen=True, slots=True)
class _Entry:
    message: HeldMessage
    release: Callable[[bytes], None]
    drop: Callable[[], None]
    owner: object


class HoldQueue:
    """The chunks one Wire holds, oldest first."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._entries

    def add(self, message: HeldMessage, release: Callable[[bytes], None],
            drop: Callable[[], None], owner: object) -> None:
        """Hold ``message``: ``release(data)`` sends bytes on, ``drop()`` discards it
        (and whatever that means for its connection); ``owner`` is its link or session."""
        self._entries[message.id] = _Entry(message, release, drop, owner)

    def messages(self) -> list[HeldMessage]:
        return [entry.message for entry in self._entries.values()]

    def forward(self, message_id: int, data: bytes | None = None) -> None:
        """Send a held chunk on (``data`` instead of its bytes when edited); KeyError if
        it is not held (any more)."""
        entry = self._entries.pop(message_id)
        entry.release(entry.message.data if data is None else data)

    def forward_all(self) -> int:
        """Send every held chunk on, oldest first; returns how many."""
        count = 0
        while self._entries:
            self.forward(next(iter(self._entries)))
            count += 1
        return count

    def drop(self, message_id: int) -> None:
        """Discard a held chunk (KeyError if it is not held)."""
        entry = self._entries.pop(message_id)
        entry.drop()

    def holds_from(self, owner: object) -> bool:
        """Whether a chunk of the link or session ``owner`` is held."""
        return any(entry.owner is owner for entry in self._entries.values())

    def forget(self, owner: object) -> None:
        """The link or session ``owner`` ended: its held chunks go nowhere."""
        for key in [k for k, e in self._entries.items() if e.owner is owner]:
            del self._entries[key]
