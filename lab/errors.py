"""Errors a user can act on, raised by the engine and what it is made of."""

from __future__ import annotations


class EngineError(Exception):
    """A command the engine cannot carry out; the message says why, for a user."""
