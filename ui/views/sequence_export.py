"""The sequence diagram as a file (PNG or SVG), and as words (its tooltips)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgGenerator

from lab.model import Message, Sender
from ui.models.messages import format_time
from ui.models.sequence import Arrow, Lane
from ui.views.explain import explain_text
from ui.views.sequence_paint import DiagramPainter, Marks

#: At most this many rows go into one exported picture (a PNG of more would take
#: hundreds of megabytes; a handout needs far fewer): the last ones of the range.
EXPORT_LIMITS = {"png": 600, "svg": 5000}
#: An exported diagram is at least this wide, so that summaries have room.
EXPORT_WIDTH = 960
#: Export menu entries: (key, text); the key says which rows and which format.
EXPORTS = (("all.png", "Whole diagram as PNG…"), ("all.svg", "Whole diagram as SVG…"),
           ("range.png", "Selected rows as PNG…"), ("range.svg", "Selected rows as SVG…"))


def export_diagram(painter: DiagramPainter, path: str | Path, first: int, last: int,
                   width: int) -> tuple[int, int]:
    """Write rows ``first``..``last`` (under the lane heads) to ``path``: SVG if it
    ends in ``.svg``, else PNG; laid out for ``width`` pixels (wider if the lanes
    need it, and at least EXPORT_WIDTH). Returns the rows written; OSError if the
    file cannot be written."""
    fmt = "svg" if str(path).lower().endswith(".svg") else "png"
    first = max(first, last - EXPORT_LIMITS[fmt] + 1)
    lay = painter.layout(max(width, EXPORT_WIDTH))
    size = QSize(lay.width, lay.header_height + max(0, last - first + 1) * lay.row_height)
    device: QImage | QSvgGenerator
    if fmt == "svg":
        svg = QSvgGenerator()
        svg.setFileName(str(path))
        svg.setSize(size)
        svg.setViewBox(QRect(0, 0, size.width(), size.height()))
        svg.setTitle("Client-Server Lab: sequence diagram")
        svg.setDescription(f"rows {first + 1} to {last + 1} of the diagram")
        device = svg
    else:
        device = QImage(size, QImage.Format.Format_RGB32)
    p = QPainter(device)
    if not p.isActive():
        raise OSError(f"cannot write {path}")
    try:
        p.fillRect(QRect(0, 0, size.width(), size.height()), painter.palette.base())
        painter.paint_header(p, lay)
        if last >= first:
            painter.paint_rows(p, lay, first, last, lay.header_height, Marks())
    finally:
        p.end()
    if isinstance(device, QImage):
        writer = QImageWriter(str(path), b"png")
        if not writer.write(device):
            raise OSError(f"cannot write {path}: {writer.errorString()}")
    return first, last


def describe(arrow: Arrow, lanes: list[Lane], answering: Message | None = None) -> str:
    """A row in words, for its tooltip: the message, its ends, its marks, and the
    explanation when there is one (``answering``: the request a reply answers)."""
    m = arrow.message
    source, destination = (m.client, m.server) if m.sender is Sender.CLIENT else (
        m.server, m.client)
    lines = [f"#{m.id}  {format_time(m.time)}  {m.protocol}  {m.connection}",
             f"{lanes[arrow.start].label} → {lanes[arrow.end].label}",
             f"{source} → {destination}", m.summary]
    flags = [n for n in ("malformed", "truncated", "injected", "held") if getattr(m, n)]
    if flags:
        lines.append("flags: " + ", ".join(flags))
    if arrow.opens:
        lines.append(f"Connection {m.connection} begins here (the hollow dot).")
    if arrow.closes:
        lines.append(f"Connection {m.connection} ends after this (the bar).")
    if arrow.data:
        lines.append("On an FTP data connection (dashed).")
    note = explain_text(m, answering)
    return "\n".join(lines) + (f"\n\n{note}" if note else "")
