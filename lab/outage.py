"""A capture writer's pause on a full (or failing) disk, shared by the JSON Lines
writer (lab/capture_lines.py) and the ``.cslab`` recorder (lab/recorder.py).

While paused the lab goes on serving; the writer counts the messages it could not
write (``lost``), tries again every RETRY_INTERVAL seconds, and says one line when
the pause begins and one when writing goes on again.
"""

from __future__ import annotations

import sys
import time

#: How often a paused writer tries to write again (seconds).
RETRY_INTERVAL = 1.0


def say(line: str) -> None:
    """One line on stderr, at once."""
    print(line, file=sys.stderr, flush=True)


class Outage:
    """The pause of one writer. ``noun`` names what is paused ("capture",
    "recording"), ``again`` what goes on ("capturing", "recording"), ``cannot`` what
    failed ("cannot record to FILE"), ``target`` the file."""

    def __init__(self, noun: str, again: str, cannot: str, target: str) -> None:
        self.noun, self.again, self.cannot, self.target = noun, again, cannot, target
        self.since: float | None = None  # when the pause began (time.time())
        self.lost = 0  # messages captured while paused: not in the file
        self._retry = 0.0

    @property
    def paused(self) -> bool:
        return self.since is not None

    def waiting(self) -> bool:
        """Paused, and not yet time to try again."""
        return self.paused and time.monotonic() < self._retry

    def try_now(self) -> None:
        """The next write is a try (the writer is closing)."""
        self._retry = 0.0

    def begin(self, full: bool, why: object) -> None:
        """A write failed (``full``: the disk is full): try again later; the first
        failure says one line."""
        self._retry = time.monotonic() + RETRY_INTERVAL
        if self.since is not None:
            return
        self.since = time.time()
        if full:
            say(f"cslab: the disk is full: {self.noun} paused; the lab goes on serving")
        else:
            say(f"cslab: {self.cannot} ({why}): {self.noun} paused; the lab goes on serving")

    def end(self) -> None:
        """Writing went on: say what the pause cost."""
        self.since = None
        say(f"cslab: {self.again} again: {self.lost} messages captured while the disk was "
            f"full are not in {self.target}")

    def left(self, still_full: bool) -> None:
        """The writer closes while paused (or after): say what is not in the file."""
        still = " (the disk is still full)" if still_full else ""
        say(f"cslab: {self.lost} messages captured while the disk was full are not in "
            f"{self.target}{still}")
