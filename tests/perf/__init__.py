"""Benchmarks of the Wire (``make bench`` runs ``python -m tests.perf``)."""
