"""Which message answers which: an HTTP response to its request, and so on.

Request/response protocols answer in order on each connection (HTTP/1.1 with
pipelining included), so a Pairer keeps, per connection, a queue of questions
still waiting and gives each answer the oldest. What counts as a question or an
answer is data: a rule per protocol naming the field a dissector puts first.
A keyed rule (DNS) pairs by that field's value instead: an answer goes to the
oldest waiting question with the same value, in whatever order answers come.
Since a keyed question may never be answered (a lost datagram), each connection
keeps only its newest ``KEYED_KEPT`` waiting ones; an in-order queue keeps its
newest ``ORDERED_KEPT`` (a client that pipelines questions no one answers must
not grow the lab), and a connection with nothing waiting keeps nothing.
"""

from __future__ import annotations

from collections import deque

from lab.kinds import Rule, pairing_rule
from lab.model import FieldValue

#: Keyed questions kept waiting per connection; past this the oldest is forgotten.
KEYED_KEPT = 1000
#: In-order questions kept waiting per connection; past this the oldest is forgotten
#: (it stays unpaired, and so does the answer that would have been its).
ORDERED_KEPT = 10_000


#: The rules live in the kind table (lab/kinds.py), one per protocol that pairs.
__all__ = ["KEYED_KEPT", "ORDERED_KEPT", "Pairer", "Rule"]


class _KeyedWaits:
    """One connection's keyed questions still waiting: by key, and all in order."""

    def __init__(self) -> None:
        self.by_key: dict[FieldValue, deque[int]] = {}
        self.order: dict[int, FieldValue] = {}  # message id → its key, oldest first

    def ask(self, message_id: int, key: FieldValue) -> None:
        self.by_key.setdefault(key, deque()).append(message_id)
        self.order[message_id] = key
        if len(self.order) > KEYED_KEPT:  # the oldest overall leads its key's queue
            self._take(self.order[next(iter(self.order))])

    def answer(self, key: FieldValue) -> int | None:
        return self._take(key) if key in self.by_key else None

    def _take(self, key: FieldValue) -> int:
        queue = self.by_key[key]
        message_id = queue.popleft()
        if not queue:
            del self.by_key[key]
        del self.order[message_id]
        return message_id


class Pairer:
    """Feed messages in capture order; learn which earlier message each one answers."""

    def __init__(self) -> None:
        self._waiting: dict[str, deque[int]] = {}
        self._forgotten: dict[str, int] = {}  # connection → answers owed to forgotten ones
        self._keyed: dict[str, _KeyedWaits] = {}

    def add(
        self,
        message_id: int,
        *,
        protocol: str,
        connection: str,
        from_client: bool,
        first_field: tuple[str, FieldValue] | None,
    ) -> int | None:
        """The id of the question this message answers, or None."""
        rule = pairing_rule(protocol)
        if rule is None or first_field is None:
            return None
        name, value = first_field
        if rule.keyed:
            return self._add_keyed(rule, message_id, connection, first_field, from_client)
        if from_client:
            if name in rule.questions:
                waiting = self._waiting.setdefault(connection, deque())
                waiting.append(message_id)
                if len(waiting) > ORDERED_KEPT:
                    waiting.popleft()
                    self._forgotten[connection] = self._forgotten.get(connection, 0) + 1
            return None
        queue = self._waiting.get(connection)
        if name == rule.answer and rule.final(value) and queue:
            if connection in self._forgotten:  # this answer was a forgotten question's
                self._forgotten[connection] -= 1
                if not self._forgotten[connection]:
                    del self._forgotten[connection]
                return None
            question = queue.popleft()
            if not queue:
                del self._waiting[connection]
            return question
        return None

    def _add_keyed(self, rule: Rule, message_id: int, connection: str,
                   field: tuple[str, FieldValue], from_client: bool) -> int | None:
        name, value = field
        if from_client:
            if name in rule.questions:
                self._keyed.setdefault(connection, _KeyedWaits()).ask(message_id, value)
            return None
        waits = self._keyed.get(connection)
        if name != rule.answer or not rule.final(value) or waits is None:
            return None
        question = waits.answer(value)
        if not waits.order:
            del self._keyed[connection]
        return question
