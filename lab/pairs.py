"""Which message of a capture answers which: computed once here, over the rules
of lab/pairing.py, for the inspector's model (and through it the sequence
diagram) and the HAR export, so that they cannot disagree.

Every message is fed, in capture order, whatever its protocol and flags: what
pairs is decided by its first field alone (lab/pairing.py), the same for the
inspector and for HAR, which only leaves out of its entries the requests it
cannot write (malformed ones).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from lab.model import FieldValue, Message, Sender
from lab.pairing import Pairer


class Pairs:
    """Feed messages (``add``) or JSON Lines records (``add_record``) in capture order;
    ``partner`` then gives, for a question, its answer, and for an answer, its question.

    With a ``limit``, only the newest ``limit`` pairs (or up to twice as many) are
    kept: a capture that runs all day must not grow with its pairs. ``horizon`` is
    then the highest id of a pair let go: ``known(id)`` says whether ``partner``
    still knows the answer for ``id`` (any id above the horizon, or still paired);
    an older one is paired again by its owner, from its connection's messages (pairs
    are per connection: lab/pairing.py)."""

    def __init__(self, limit: int | None = None) -> None:
        self._pairer = Pairer()
        self._partner: dict[int, int] = {}  # message id ↔ the id it answers / is answered by
        self.limit = limit
        self.horizon = 0

    def add(self, message: Message) -> int | None:
        """The id of the question ``message`` answers, or None."""
        return self._add(message.id, message.protocol, message.connection,
                         message.sender is Sender.CLIENT,
                         message.fields[0] if message.fields else None)

    def add_record(self, record: Mapping[str, Any]) -> int | None:
        """As ``add``, for a capture record (those not messages answer nothing)."""
        if record.get("type") != "message":
            return None
        fields = record.get("fields") or {}
        first: tuple[str, FieldValue] | None = next(iter(fields.items()), None)
        return self._add(int(record["id"]), str(record.get("protocol", "raw")),
                         str(record["connection"]), record.get("sender") == "client", first)

    def _add(self, message_id: int, protocol: str, connection: str, from_client: bool,
             first: tuple[str, FieldValue] | None) -> int | None:
        question = self._pairer.add(message_id, protocol=protocol, connection=connection,
                                    from_client=from_client, first_field=first)
        if question is not None:
            self._partner[question] = message_id
            self._partner[message_id] = question
            if self.limit is not None and len(self._partner) > 4 * self.limit:
                self._let_go(len(self._partner) - 2 * self.limit)
        return question

    def _let_go(self, entries: int) -> None:
        """Forget the oldest pairs (two entries each, added together)."""
        partner = self._partner
        oldest = list(itertools.islice(partner, entries))
        for message_id in oldest:
            partner.pop(message_id, None)
        self.horizon = max(self.horizon, *oldest)

    def known(self, message_id: int) -> bool:
        """Whether ``partner(message_id)`` is the whole truth (see the class)."""
        return message_id > self.horizon or message_id in self._partner

    def partner(self, message_id: int) -> int | None:
        """The id of the question this message answers, or of the answer to it."""
        return self._partner.get(message_id)

    def __len__(self) -> int:
        """How many pairs."""
        return len(self._partner) // 2
