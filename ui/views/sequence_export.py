"""The sequence diagram as a file (PNG or SVG), and as words (its tooltips)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QRect, QSize
from PySide6.QtGui import QAction, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication

from lab.model import Message, Sender
from ui import theme
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


def export_text(key: str, rows: int) -> tuple[str, str]:
    """What export ``key``'s menu entry says (and its tooltip) when it would take
    ``rows`` rows: "Last 600 rows as PNG…" when the format's limit cuts them."""
    fmt = key.rpartition(".")[2]
    limit = EXPORT_LIMITS[fmt]
    whole = dict(EXPORTS)[key]
    if rows <= limit:
        return whole, ""
    which = "rows" if key.startswith("all") else "selected rows"
    return (f"Last {limit:,} {which} as {fmt.upper()}…",
            f"A {fmt.upper()} holds at most {limit:,} rows: the last {limit:,} of the "
            f"{rows:,} {which}.")


def make_actions(parent: QObject, choose: Callable[[str], None]) -> dict[str, QAction]:
    """An action per entry of EXPORTS, by key; triggering one calls ``choose(key)``."""
    actions = {key: QAction(text, parent) for key, text in EXPORTS}
    for key, action in actions.items():
        action.triggered.connect(lambda _=False, k=key: choose(k))
    return actions


def label_actions(actions: dict[str, QAction], rows: Callable[[str], tuple[int, int]],
                  enabled: Callable[[str], bool]) -> None:
    """Enable each export action as ``enabled`` says, and label it truthfully for the
    rows ``rows`` gives its key (``export_text``)."""
    for key, action in actions.items():
        first, last = rows(key)
        text, tip = export_text(key, last - first + 1)
        action.setEnabled(enabled(key))
        action.setText(text)
        action.setToolTip(tip or text.rstrip("…"))


def write_export(painter: DiagramPainter, path: str, first: int, last: int,
                 width: int) -> tuple[str, tuple[int, int] | None]:
    """``export_diagram``, and what the status bar says of it (the rows written, or
    None if none were)."""
    if last < first:
        return "Nothing to export: the diagram is empty.", None
    try:
        done = export_diagram(painter, path, first, last, width)
    except OSError as exc:
        return f"Export failed: {exc}", None
    count, asked = done[1] - done[0] + 1, last - first + 1
    fmt = "svg" if path.lower().endswith(".svg") else "png"
    cut = "" if count == asked else (f" (the last {count:,} of {asked:,} rows: a "
                                     f"{fmt.upper()} holds at most {EXPORT_LIMITS[fmt]:,})")
    return f"Wrote {count:,} message{'s' if count != 1 else ''}{cut} to {path}", done


def light_painter(painter: DiagramPainter) -> DiagramPainter:
    """``painter`` in the light look, whatever look is in use: an export is a handout."""
    app = QApplication.instance()
    palette = (theme.palette(theme.Look.LIGHT, app) if isinstance(app, QApplication)
               else painter.palette)
    return DiagramPainter(painter.model, painter.font, palette, theme.Look.LIGHT)


def export_diagram(painter: DiagramPainter, path: str | Path, first: int, last: int,
                   width: int) -> tuple[int, int]:
    """Write rows ``first``..``last`` (under the lane heads) to ``path``: SVG if it
    ends in ``.svg``, else PNG; laid out for ``width`` pixels (wider if the lanes
    need it, and at least EXPORT_WIDTH), in the light look. Returns the rows
    written; OSError if the file cannot be written."""
    painter = light_painter(painter)
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
    flags = [n for n in ("malformed", "truncated", "injected") if getattr(m, n)
             and not (n == "injected" and m.held)]  # a held-bytes note is no fault
    if flags:
        lines.append("flags: " + ", ".join(flags))
    if m.held:
        lines.append("Step mode held it at the Wire until you let it go (dotted while "
                     "held: read by the Wire, not yet delivered).")
    if arrow.opens:
        lines.append(f"Connection {m.connection} begins here (the hollow dot).")
    if arrow.closes:
        lines.append(f"Connection {m.connection} ends after this (the bar).")
    if arrow.data:
        lines.append("On an FTP data connection (dashed).")
    note = explain_text(m, answering)
    return "\n".join(lines) + (f"\n\n{note}" if note else "")
