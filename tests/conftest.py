"""Shared test setup: Qt draws offscreen unless a test asks for a real display."""

import os
import tempfile

# Before anything imports Qt: no window may need a display in `make test`.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The window remembers zoom and look in QSettings: never in the user's own.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="cslab-test-config-")
