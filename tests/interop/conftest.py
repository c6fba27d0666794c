"""Fixtures of the interop tests."""

from collections.abc import Iterator

import pytest

from tests.interop.netns import Netns, make_netns


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A namespace at 10.200.N.2 reaching the host at 10.200.N.1 (tests/interop/netns.py)."""
    yield from make_netns()
