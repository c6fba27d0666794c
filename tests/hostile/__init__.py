"""The hostile-client battery: every server kind, behind its Wire, against bad clients.

``python -m tests.hostile`` runs the whole battery against ``cslab serve KIND``
subprocesses and prints a tally; ``test_battery.py`` runs a reduced one in CI.
"""
