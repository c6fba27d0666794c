"""The types of ``cslab``'s options (lab/cli.py): a bad value is one argparse error
that says what it should be."""

from __future__ import annotations

import argparse
import math

from lab.servers.students import MAX_STUDENTS, students_option

#: The longest latency or jitter a Wire takes, in milliseconds (an hour).
MAX_DELAY_MS = 3_600_000.0
#: The longest ``cslab run --timeout`` (a week, in seconds).
MAX_RUN_S = 604_800.0


def _whole(text: str, high: float, what: str) -> int:
    """``text`` as a whole number from 0 to ``high``, else an argparse error naming
    ``what`` it should be."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def port(text: str) -> int:
    """A TCP/UDP port, 0-65535 (0: pick a free one)."""
    return _whole(text, 65535, "a port (0-65535)")


def count(text: str) -> int:
    """A whole number, 0 or more."""
    return _whole(text, math.inf, "a whole number, 0 or more")


def _decimal(text: str, low: float, high: float, what: str, *, above: bool = False) -> float:
    """``text`` as a number from ``low`` (more than it, with ``above``) to ``high``;
    NaN and infinity never are. Else an argparse error naming ``what`` it should be."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not ((low < value) if above else (low <= value)) or not value <= high:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def milliseconds(text: str) -> float:
    """A delay in milliseconds, 0 to MAX_DELAY_MS (not NaN, not infinity)."""
    return _decimal(text, 0.0, MAX_DELAY_MS,
                    f"a number of milliseconds from 0 to {MAX_DELAY_MS:.0f}")


def seconds(text: str) -> float:
    """A time limit in seconds, more than 0 and at most a week."""
    return _decimal(text, 0.0, MAX_RUN_S,
                    f"a number of seconds, more than 0 and at most {MAX_RUN_S:.0f}",
                    above=True)


def probability(text: str) -> float:
    """A probability from 0 to 1."""
    return _decimal(text, 0.0, 1.0, "a probability from 0 to 1")


def students(text: str) -> int:
    """``--students``: 1 to MAX_STUDENTS."""
    try:
        value = students_option(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_STUDENTS}, not {text!r}")
    return value
