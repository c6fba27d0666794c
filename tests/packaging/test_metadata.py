"""The desktop integration files: valid for the freedesktop tools, and pointing at
what exists (the command, the icon, each other)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.packaging.where import PACKAGING, ROOT

DESKTOP = PACKAGING / "cslab.desktop"
METAINFO = PACKAGING / "io.github.clientserverlab.ClientServerLab.metainfo.xml"
ICONS = ROOT / "resources" / "icons"


def _validator(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return path


def test_desktop_file_passes_desktop_file_validate() -> None:
    tool = _validator("desktop-file-validate", "desktop-file-utils")
    result = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout + result.stderr


def test_metainfo_passes_appstreamcli_validate() -> None:
    tool = _validator("appstreamcli", "appstream")
    result = subprocess.run([tool, "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_runs_cslab_gui_with_the_lab_icon() -> None:
    entry = _desktop_entry()
    assert entry["Exec"].split()[:2] == ["cslab", "gui"]
    assert entry["Name"] == "Client-Server Lab"
    icon = entry["Icon"]
    assert (ICONS / f"{icon}.svg").is_file()
    for size in (48, 128, 256):
        assert (ICONS / f"{icon}-{size}.png").is_file()


def test_metainfo_names_the_desktop_file_the_icon_and_the_command() -> None:
    component = ET.parse(METAINFO).getroot()
    assert component.findtext("id") == METAINFO.name.removesuffix(".metainfo.xml")
    assert component.findtext("launchable") == DESKTOP.name
    assert component.findtext("icon") == _desktop_entry()["Icon"]
    assert component.findtext("provides/binary") == "cslab"
    assert component.find("releases/release") is not None
    assert component.find("content_rating") is not None


def test_icon_pngs_are_the_sizes_their_names_say() -> None:
    from PySide6.QtGui import QImage

    for size in (48, 128, 256):
        image = QImage(str(ICONS / f"cslab-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        # drawn, not blank: the corner is transparent, the middle is not
        assert image.pixelColor(0, 0).alpha() == 0
        assert image.pixelColor(size // 2, size // 2).alpha() == 255


def test_window_icon_is_the_lab_icon(qapp: object) -> None:
    from ui.app import app_icon

    icon = app_icon()
    assert not icon.isNull()
    assert not icon.pixmap(16).isNull()
    assert not icon.pixmap(256).isNull()


def test_icon_script_draws_the_svg_again(qapp: object, tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(PACKAGING))
    try:
        from render_icons import render  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(PACKAGING))
    out = tmp_path / "icon.png"
    render(ICONS / "cslab.svg", 64, out)
    from PySide6.QtGui import QImage

    assert QImage(str(out)).width() == 64
