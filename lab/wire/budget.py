"""The connection budget: how many connections TcpWires may hold open together.

Every open connection through a TcpWire costs two file descriptors, and the
process has only so many (``lab.lan.connection_ceiling``). The Wires that share a
``ConnectionBudget`` count their connections in it, and refuse new ones once the
ceiling is reached, so the process never runs out of open files.

An Engine owns one budget and gives it to every Wire it makes (pass one budget to
several engines of one process to share the ceiling between them). A Wire made
without a budget (outside an engine: a test, a tool) uses ``PROCESS_BUDGET``, the
one process-wide default instance.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.lan import connection_ceiling


class ConnectionBudget:
    """Connections open through the TcpWires that share this budget."""

    def __init__(self, ceiling: Callable[[], int] = connection_ceiling) -> None:
        self._ceiling = ceiling
        self.open = 0

    @property
    def ceiling(self) -> int:
        """How many connections may be open at once (0: no limit known)."""
        return self._ceiling()

    def opened(self) -> None:
        self.open += 1

    def closed(self) -> None:
        self.open = max(0, self.open - 1)

    def full(self) -> bool:
        """Whether a new connection would pass the ceiling."""
        ceiling = self.ceiling
        return bool(ceiling) and self.open >= ceiling

    def half_full(self) -> bool:
        """Whether half the ceiling is used (the slow-client guard starts cutting)."""
        ceiling = self.ceiling
        return bool(ceiling) and 2 * self.open >= ceiling


#: The budget of Wires made without one (outside an engine).
PROCESS_BUDGET = ConnectionBudget()
