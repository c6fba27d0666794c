"""Which message answers which: an HTTP response to its request, and so on.

Request/response protocols answer in order on each connection (HTTP/1.1 with
pipelining included), so a Pairer keeps, per connection, a queue of questions
still waiting and gives each answer the oldest. What counts as a question or an
answer is data: a rule per protocol naming the field a dissector puts first.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from lab.model import FieldValue


def _final_status(value: FieldValue) -> bool:
    """A final HTTP answer: not 100 Continue and friends (101 does end the exchange)."""
    return isinstance(value, int) and (value >= 200 or value == 101)


def _always(value: FieldValue) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Rule:
    questions: frozenset[str]  # a client message whose first field is named so asks
    answer: str  # a server message whose first field has this name answers…
    final: Callable[[FieldValue], bool] = _always  # …when this holds for its value


RULES: dict[str, Rule] = {
    "http": Rule(frozenset({"method"}), "status", _final_status),
    # Each SMTP line gets its reply (DATA its 354, the message its 250); the
    # greeting answers nothing, since nothing waits when it comes.
    "smtp": Rule(frozenset({"command", "content"}), "code"),
    "pop3": Rule(frozenset({"command"}), "status"),
    # A 150 "opening the data connection" is preliminary: the 226 answers.
    "ftp": Rule(frozenset({"command"}), "code", lambda code: isinstance(code, int)
                and code >= 200),
}


class Pairer:
    """Feed messages in capture order; learn which earlier message each one answers."""

    def __init__(self) -> None:
        self._waiting: dict[str, deque[int]] = defaultdict(deque)

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
        rule = RULES.get(protocol)
        if rule is None or first_field is None:
            return None
        name, value = first_field
        if from_client:
            if name in rule.questions:
                self._waiting[connection].append(message_id)
            return None
        queue = self._waiting.get(connection)
        if name == rule.answer and rule.final(value) and queue:
            return queue.popleft()
        return None
