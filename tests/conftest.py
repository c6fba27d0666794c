"""Shared test setup: Qt draws offscreen unless a test asks for a real display."""

import atexit
import os
import shutil
import tempfile

# Before anything imports Qt: no window may need a display in `make test`.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The window remembers zoom and look in QSettings: never in the user's own.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="cslab-test-config-")
atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], ignore_errors=True)
# A capture keeps its older messages on disk: never in the user's own cache.
os.environ["CSLAB_SPILL_DIR"] = tempfile.mkdtemp(prefix="cslab-test-spill-")
atexit.register(shutil.rmtree, os.environ["CSLAB_SPILL_DIR"], ignore_errors=True)
