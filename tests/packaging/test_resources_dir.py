"""lab.paths.resources_dir: the bundle's copy when frozen, the tree's otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lab.paths import resources_dir
from tests.packaging.where import RESOURCES


def test_from_the_source_tree_it_is_the_tree_s_resources() -> None:
    assert resources_dir() == RESOURCES


def test_frozen_it_is_the_bundle_s_copy(monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"
