"""The window at a projector's 1280×720 and at 1920×1080, normal and presenting.

The offscreen screen is 800×800 and the QApplication is shared by all tests, so
each size runs tests/ui/fit_check.py in a process of its own on an offscreen
screen of that size, with the demo conversations (HTTP, SMTP, FTP) in view."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Qt's offscreen plugin reads its screens from this (qoffscreen's "screens" keys).
SCREEN = {"name": "lab", "x": 0, "y": 0, "logicalDpi": 96}


def run_at(width: int, height: int, folder: Path) -> dict[str, Any]:
    config = folder / "screen.json"
    physical = {"physicalWidth": round(width * 25.4 / 96),  # millimetres at 96 dpi
                "physicalHeight": round(height * 25.4 / 96)}
    config.write_text(json.dumps({"screens": [{**SCREEN, "width": width, "height": height,
                                               **physical}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
           "HOME": str(folder)}
    done = subprocess.run([sys.executable, "-m", "tests.ui.fit_check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_the_diagram_and_its_lane_heads_fit_normal_and_presenting(
        width: int, height: int, tmp_path: Path) -> None:
    modes = run_at(width, height, tmp_path)
    assert set(modes) == {"normal", "presenting", "presenting at 175%"}
    for mode, seen in modes.items():
        assert seen["window"] == [width, height], mode
        assert seen["lanes"] == 7, mode  # 3 servers, 4 clients
        assert seen["wire_scroll_max"] == 0, (mode, seen)  # no sideways scrolling
        assert seen["diagram_width"] <= seen["viewport"], (mode, seen)
        assert seen["last_head_right"] <= seen["viewport"], (mode, seen)  # "FTP server #1"
        assert seen["heads_whole"], (mode, seen)
        assert seen["column_scroll_max"] == [0, 0], (mode, seen)  # panels never scroll sideways
    left, middle, right = modes["presenting"]["columns"]
    assert middle > left + right  # presenting, the diagram gets the most room
