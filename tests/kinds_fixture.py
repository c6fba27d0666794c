"""Adds the test-only "qotd" kind (tests/qotd/) to the lab's kind table.

Importing this module registers the row and imports none of the kind's modules: the
row names them. Tests import it inside a fixture and unregister the row after, so
that other tests see the real table.
"""

from __future__ import annotations

from pathlib import Path

from lab import kinds
from lab.model import Transport

HERE = Path(__file__).parent / "qotd"
QOTD_MODULES = ("tests.qotd.server", "tests.qotd.client", "tests.qotd.dissect")

QOTD = kinds.register(kinds.Kind(
    "qotd", dissectors=("tests.qotd.dissect",),
    pairing=kinds.Rule(frozenset({"command"}), "code"),
    explain=(str(HERE / "notes.toml"),),
    server=kinds.ServerSide("Quote of the day server", "tests.qotd.server:start_qotd",
                            Transport.TCP, 1717, note="a quote for each QUOTE line"),
    client=kinds.ClientSide("Quote of the day client", "tests.qotd.client:QuoteClient",
                            {"server": ""}, {"quote": ("N?",)},
                            note="ask for a quote of the day")))
