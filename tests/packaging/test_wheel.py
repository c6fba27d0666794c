"""A non-editable install (what ``pipx install .`` makes) carries resources/ and finds it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging.where import RESOURCES, ROOT, resource_files

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "README.md", "lab", "ui", "resources")


def _build_wheel(tmp_path: Path) -> Path:
    """Build the project's wheel from a copy of its sources (the tree stays untouched)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "wheel"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


def test_wheel_installs_every_resource_and_the_lab_finds_them(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    marker = ".data/data/share/cslab/resources/"
    in_wheel = {n.split(marker, 1)[1] for n in names if marker in n}
    assert in_wheel == resource_files(RESOURCES)

    # A fresh environment (no source tree on its path), as pipx makes one.
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)],
                   check=True, timeout=120)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    found = subprocess.run(
        [str(python), "-c", "from lab.paths import resources_dir; print(resources_dir())"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )
    assert found.returncode == 0, found.stderr
    resources = Path(found.stdout.strip())
    assert resources.is_relative_to(env_dir), resources
    assert resource_files(resources) == resource_files(RESOURCES)
