"""A protocol kind that lives only in the test suite: "quote of the day" (qotd).

Its modules (server, client, dissector, notes; the panel in tests/ui) are its own;
tests/kinds_fixture.py adds its one row to lab/kinds.py. Nothing here is imported
until a qotd server, client or message is first used.
"""
