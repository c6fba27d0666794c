"""Shared by the packaging tests: where the repository and its packaging files are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
RESOURCES = ROOT / "resources"


def resource_files(base: Path) -> set[str]:
    """Every file below ``base``, as paths relative to it."""
    return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}
