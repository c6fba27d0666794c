"""How long a lab client waits while step mode may hold its messages.

A Wire in step mode (lab/wire/hold.py) holds what it receives until the user
acts, which may take minutes. Lab clients ask for their timeouts through a
``Patience`` when they start a request: while some Wire of *their* engine steps,
it stretches a timeout to STEP_TIMEOUT, so a held message does not make them
give up. The engine's patience is its wire board's ``patient`` (lab/wire/board.py),
handed to its clients with their ``Routes`` (lab/clients/__init__.py) and to its
Wires; nothing here is process-wide. A client or Wire made without an engine
uses ``as_given``: no Wire of its steps, its timeouts stay as they are.

Kept apart from the Wire package so a client reads it without loading the Wire.
"""

from __future__ import annotations

from collections.abc import Callable

#: A lab client's timeout while some Wire of its engine steps (seconds).
STEP_TIMEOUT = 3600.0

#: A timeout (seconds) → the timeout to use now (longer while a Wire steps).
Patience = Callable[[float], float]


def as_given(timeout: float) -> float:
    """The patience of a client or Wire outside an engine: ``timeout`` itself."""
    return timeout


def patient_while(stepping: bool, timeout: float) -> float:
    """``timeout``, or STEP_TIMEOUT (if longer) while ``stepping``."""
    return max(timeout, STEP_TIMEOUT) if stepping else timeout
