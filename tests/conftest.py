"""Shared test setup: Qt draws offscreen unless a test asks for a real display."""

import os

# Before anything imports Qt: no window may need a display in `make test`.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
