"""The fuzz tests' Hypothesis profile: a short run by default, a long one in ``make fuzz``.

``CSLAB_FUZZ_EXAMPLES`` (``make fuzz`` sets 100000) is the number of examples each
fuzz test tries; without it every test tries FUZZ_CI examples, which keeps
``pytest tests/fuzz`` near 15 s here. The profile is applied per test (see
``tests.fuzz.talk.FUZZ``), not loaded globally, so other Hypothesis tests in the
same run keep their own settings. Failing examples are remembered under the
repository's ignored ``.hypothesis/`` only.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

#: Examples per fuzz test when CSLAB_FUZZ_EXAMPLES is not set (CI, `make test`).
FUZZ_CI = 50

_ROOT = Path(__file__).resolve().parents[2]

settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("CSLAB_FUZZ_EXAMPLES") or FUZZ_CI),
    deadline=None,
    database=DirectoryBasedExampleDatabase(str(_ROOT / ".hypothesis" / "examples")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A long run (``make fuzz``) is bounded by its example count, not by pytest-timeout's
    per-test limit, which would end the whole run at the first test past it."""
    if not os.environ.get("CSLAB_FUZZ_EXAMPLES"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.timeout(0))
