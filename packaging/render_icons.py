"""Render resources/icons/cslab.svg to the PNG sizes the desktop wants.

    .venv/bin/python packaging/render_icons.py      (writes cslab-48.png, -128, -256)

Uses Qt's own SVG renderer offscreen, so it needs nothing beyond the app's
dependencies; run it again whenever the SVG changes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (48, 128, 256)


def render(svg: Path, size: int, out: Path) -> None:
    """Draw ``svg`` into a transparent ``size``×``size`` PNG at ``out``."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out)):
        raise SystemExit(f"cannot write {out}")


def main() -> int:
    app = QGuiApplication(sys.argv[:1])
    svg = ICONS / "cslab.svg"
    for size in SIZES:
        out = ICONS / f"cslab-{size}.png"
        render(svg, size, out)
        print(out)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
