"""Whether some Wire of this process steps, for the lab clients' timeouts.

A Wire in step mode (lab/wire/hold.py) holds what it receives until the user
acts, which may take minutes. Lab clients read ``patient(timeout)`` when they
start a request: while any Wire in this process steps, their timeouts are an
hour, so a held message does not make them give up.

This is process-wide state (a set of the stepping Wires' ``id()``), kept here,
apart from the Wire package, so a client reads it without importing the Wire.
"""

from __future__ import annotations

#: A lab client's timeout while some Wire steps (seconds).
STEP_TIMEOUT = 3600.0

_stepping: set[int] = set()


def stepping(key: int, on: bool) -> None:
    """Record that the Wire ``key`` (its ``id()``) steps or stops stepping."""
    if on:
        _stepping.add(key)
    else:
        _stepping.discard(key)


def patient(timeout: float) -> float:
    """A lab client's timeout: ``timeout``, or STEP_TIMEOUT while a Wire steps."""
    return max(timeout, STEP_TIMEOUT) if _stepping else timeout
