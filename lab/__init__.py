"""Client-Server Lab: the engine (no Qt below here)."""

__version__ = "0.1.0"
