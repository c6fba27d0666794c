"""Drawing the sequence diagram: lane heads, lifelines and arrows, on any QPainter.

The view paints the visible rows with it; export (sequence_export.py) paints a
range of rows into a QImage (PNG) or a QSvgGenerator (SVG) the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontInfo,
    QFontMetrics,
    QPainter,
    QPalette,
    QPen,
    QPolygonF,
)

from lab.model import Sender
from ui import theme
from ui.models.sequence import Arrow, Lane, SequenceModel


def meaning(name: str, palette: QPalette, look: theme.Look | None = None) -> QColor:
    """``look``'s colour (else the look in use's) for ``name`` (client, server,
    fault); lightened if the look is light but the palette dark (a dark desktop
    before a look was applied)."""
    look = look or theme.current()
    colour = theme.qcolour(name, look)
    if look is theme.Look.LIGHT and palette.base().color().lightness() < 128:
        return colour.lighter(165)
    return colour


def head_lines(lane: Lane) -> tuple[str, str]:
    """A lane head's name and what it is (its role, and a server's port)."""
    name, sep, port = lane.label.rpartition(" :")
    role = lane.role.value
    return (name, f"{role} :{port}") if sep else (lane.label, role)


def role_lines(lane: Lane) -> list[str]:
    """What a head may say under its name, longest first: a named server's host:port
    where room allows, else its port (the first that fits is drawn)."""
    name, role = head_lines(lane)
    if lane.address and lane.address not in name and " :" in role:
        kind, _, port = role.partition(" ")
        return [f"{kind} {lane.address}", lane.address, role, port]
    return [role, role.rpartition(" ")[2]]


def _lines(lane: Lane) -> int:
    """Lines a lane head's name may take: a client's may take the third ("client"
    says less than its colour and its place), a server keeps it for its port."""
    return 3 if lane.role is Sender.CLIENT else 2


def wrap_words(fm: QFontMetrics, text: str, width: int, lines: int) -> list[str] | None:
    """``text`` in at most ``lines`` lines of ``width``, broken between words only;
    None if it does not fit so."""
    out: list[str] = []
    for word in text.split(" "):
        joined = f"{out[-1]} {word}" if out else word
        if out and fm.horizontalAdvance(joined) <= width:
            out[-1] = joined
        elif fm.horizontalAdvance(word) <= width:
            out.append(word)
        else:
            return None
    return out if len(out) <= lines else None


def wrap(fm: QFontMetrics, text: str, width: int, lines: int = 2) -> list[str]:
    """``text`` in at most ``lines`` lines of ``width``: between words where it can,
    else cut, the last line elided in the middle (so "composer #2" keeps its number)."""
    whole = wrap_words(fm, text, width, lines)
    if whole is not None:
        return whole
    out: list[str] = []
    while fm.horizontalAdvance(text) > width and len(out) < lines - 1:
        cut = len(text)
        while cut > 1 and fm.horizontalAdvance(text[:cut]) > width:
            cut -= 1
        space = text.rfind(" ", 0, cut + 1)
        head = text[:space] if space > 0 else text[:cut]
        out.append(head)
        text = text[len(head):].strip()
    return [*out, fm.elidedText(text, Qt.TextElideMode.ElideMiddle, width)] if text else out


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things go, for a given font, lane count and width; with the lane heads'
    font and, as they are first painted, their lines (so a paint costs the lanes in
    view, not all of them)."""

    row_height: int
    header_height: int
    gutter: int
    spacing: float  # between lane centres
    lanes: int
    width: int  # of the whole diagram (at least the width it was made for)
    head_font: QFont = field(default_factory=QFont, compare=False)
    heads: dict[int, tuple[list[str], str]] = field(default_factory=dict, compare=False)

    def lane_x(self, lane: int) -> float:
        return self.gutter + self.spacing * (lane + 0.5)

    def lane_at(self, x: float) -> int | None:
        lane = int((x - self.gutter) // self.spacing) if self.spacing else -1
        return lane if 0 <= lane < self.lanes else None

    def lanes_in(self, left: float, right: float) -> range:
        """The lanes whose heads reach into diagram x ``left``..``right``."""
        if not self.spacing:
            return range(0)
        first = int((left - self.gutter) // self.spacing) - 1
        last = int((right - self.gutter) // self.spacing) + 1
        return range(max(0, first), min(self.lanes, last + 1))


@dataclass(frozen=True, slots=True)
class Marks:
    """How rows are highlighted: the current row, a selected range, its partner."""

    current: int | None = None
    first: int | None = None
    last: int | None = None
    partner: int | None = None

    def in_range(self, row: int) -> bool:
        return self.first is not None and self.last is not None and self.first <= row <= self.last


class DiagramPainter:
    """Paints ``model`` with ``font`` and ``palette`` (text colours come from it), in
    the colours of ``look`` (None: the look in use)."""

    def __init__(self, model: SequenceModel, font: QFont, palette: QPalette,
                 look: theme.Look | None = None) -> None:
        self.model = model
        self.palette = palette
        self.look = look
        self.font = QFont(font)
        self.font.setPixelSize(QFontInfo(font).pixelSize())  # the same size on any device
        self.fm = QFontMetrics(self.font)
        self.small = QFont(self.font)
        self.small.setPixelSize(max(8, self.font.pixelSize() * 85 // 100))
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.small_bold = QFont(self.small)
        self.small_bold.setBold(True)

        line = self.fm.height()
        #: What depends on the font alone (a view needs them before the lanes are known).
        self.row_height = line + 14
        self.header_height = 3 * line + 18
        self.gutter = QFontMetrics(self.small).horizontalAdvance("#000000") + 10

    def layout(self, width: int) -> Layout:
        """Where the lanes go in ``width`` pixels (wider if they need it); asks the
        model for its lanes, so it catches up with the rows."""
        lanes = self.model.lanes()
        narrowest = max(72, self.fm.averageCharWidth() * 10)
        spacing = max(float(narrowest), (width - self.gutter) / max(1, len(lanes)))
        return Layout(row_height=self.row_height, header_height=self.header_height,
                      gutter=self.gutter, spacing=spacing, lanes=len(lanes),
                      width=max(width, self.gutter + int(spacing * len(lanes))),
                      head_font=self._head_font(lanes, int(spacing) - 12))

    # ---- the pinned header ---------------------------------------------------------

    def paint_header(self, p: QPainter, lay: Layout, dx: int = 0,
                     view: int | None = None) -> None:
        """Lane heads in a band ``lay.header_height`` high, shifted left by ``dx``;
        only those within ``view`` pixels of the left edge (None: all)."""
        band = QRect(0, 0, lay.width, lay.header_height)
        p.fillRect(band, self.palette.window())
        p.setPen(self.palette.mid().color())
        p.drawLine(0, lay.header_height - 1, lay.width, lay.header_height - 1)
        p.setFont(self.small)
        p.setPen(self._faint())
        p.drawText(QRect(0, 4, lay.gutter, lay.header_height - 8),
                   Qt.AlignmentFlag.AlignCenter, "time\n↓")
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        line = self.fm.height()
        width = int(lay.spacing) - 6
        lanes = self.model.lanes()
        for i in lay.lanes_in(dx, dx + (lay.width if view is None else view)):
            if i >= len(lanes):
                break
            lane = lanes[i]
            colour = meaning(lane.role.value, self.palette, self.look)
            box = QRectF(lay.lane_x(i) - dx - width / 2, 5, width, 3 * line + 8)
            tint = QColor(colour)
            tint.setAlpha(40)
            p.setPen(QPen(colour, 1.4))
            p.setBrush(tint)
            p.drawRoundedRect(box, 6, 6)
            inner = box.adjusted(3, 4, -3, -4)
            names, role = self._head(lay, i, lane, int(inner.width()))
            top = inner.top() + (3 - len(names) - bool(role)) * line / 2
            p.setFont(lay.head_font)
            p.setPen(self.palette.text().color())
            for n, text in enumerate(names):
                p.drawText(QRectF(inner.left(), top + n * line, inner.width(), line),
                           Qt.AlignmentFlag.AlignCenter, text)
            p.setFont(self.font)
            p.setPen(self._faint())
            p.drawText(QRectF(inner.left(), top + len(names) * line, inner.width(), line),
                       Qt.AlignmentFlag.AlignCenter, role)
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _head(self, lay: Layout, i: int, lane: Lane, width: int) -> tuple[list[str], str]:
        """Lane ``i``'s name in lines, and the line under it; worked out once a layout."""
        head = lay.heads.get(i)
        if head is None:
            names = wrap(QFontMetrics(lay.head_font), head_lines(lane)[0], width, _lines(lane))
            roles = [] if len(names) == 3 else role_lines(lane)
            role = next((r for r in roles if self.fm.horizontalAdvance(r) <= width),
                        self.fm.elidedText(roles[-1], Qt.TextElideMode.ElideRight, width)
                        if roles else "")
            head = lay.heads[i] = (names, role)
        return head

    def _head_font(self, lanes: list[Lane], width: int) -> QFont:
        """Bold for every lane head if each name fits in whole words, else smaller."""
        fm = QFontMetrics(self.bold)
        fits = all(wrap_words(fm, head_lines(lane)[0], width, _lines(lane)) is not None
                   for lane in lanes)
        return self.bold if fits else self.small_bold

    # ---- rows ----------------------------------------------------------------------

    def paint_rows(self, p: QPainter, lay: Layout, first: int, last: int, top: int,
                   marks: Marks, dx: int = 0, view: int | None = None) -> None:
        """Rows ``first``..``last`` (inclusive), row ``first`` at ``top``: backgrounds,
        lifelines across them (those within ``view`` pixels of the left edge; None:
        all), then the arrows."""
        rh = lay.row_height
        bottom = top + (last - first + 1) * rh
        alternate = self.palette.alternateBase().color()
        for row in range(first, last + 1):
            back = self._background(row, marks, alternate)
            if back is not None:
                p.fillRect(QRect(0, top + (row - first) * rh, lay.width, rh), back)
        p.setPen(QPen(self.palette.mid().color(), 1, Qt.PenStyle.DashLine))
        for i in lay.lanes_in(dx, dx + (lay.width if view is None else view)):
            x = round(lay.lane_x(i)) - dx
            p.drawLine(x, top, x, bottom)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for row in range(first, last + 1):
            arrow = self.model.arrow(row)
            if arrow is not None:
                y = top + (row - first) * rh
                self._paint_id(p, lay, arrow, y, row == marks.current)
                back = self._background(row, marks, alternate) or self.palette.base().color()
                self._paint_arrow(p, lay, arrow, y, dx, back, row == marks.current)

    def _background(self, row: int, marks: Marks, alternate: QColor) -> QColor | None:
        if row == marks.current:
            return self.palette.highlight().color()
        if marks.in_range(row) or row == marks.partner:
            tint = QColor(self.palette.highlight().color())
            tint.setAlpha(90 if marks.in_range(row) else 55)
            return _over(tint, self.palette.base().color())
        return alternate if row % 2 and alternate != self.palette.base().color() else None

    def _faint(self) -> QColor:
        colour = QColor(self.palette.text().color())
        colour.setAlpha(150)
        return colour

    def _paint_id(self, p: QPainter, lay: Layout, arrow: Arrow, y: int, current: bool) -> None:
        p.setFont(self.small)
        p.setPen(self.palette.highlightedText().color() if current else self._faint())
        p.drawText(QRect(2, y, lay.gutter - 8, lay.row_height),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   f"#{arrow.message.id}")

    def _paint_arrow(self, p: QPainter, lay: Layout, arrow: Arrow, y: int, dx: int,
                     back: QColor, current: bool) -> None:
        message = arrow.message
        x0, x1 = lay.lane_x(arrow.start) - dx, lay.lane_x(arrow.end) - dx
        direction = 1 if x1 >= x0 else -1
        line_y = y + self.fm.height() + 8
        if current:
            colour = self.palette.highlightedText().color()
        else:
            note = message.injected and not message.held  # the Wire's rewrite: grey
            colour = meaning("fault" if self.fault(arrow) else "faint" if note
                             else message.sender.value, self.palette, self.look)
        pen = QPen(colour, 2.0 if current else 1.6)
        if arrow.data:
            pen.setStyle(Qt.PenStyle.DashLine)
        if self.holding(arrow):  # read by the Wire, not delivered yet: pending
            pen.setStyle(Qt.PenStyle.DotLine)
        p.setPen(pen)
        p.drawLine(QPointF(x0, line_y), QPointF(x1 - direction * 6, line_y))
        p.setPen(QPen(colour, 1))
        p.setBrush(colour)
        back_x = x1 - direction * 10
        p.drawPolygon(QPolygonF([QPointF(x1, line_y), QPointF(back_x, line_y - 5),
                                 QPointF(back_x, line_y + 5)]))
        # the connection's marks sit on the client's lifeline, on its outer (left)
        # side, clear of an arrowhead that may end there
        client_x = min(x0, x1) - 9
        if arrow.opens:  # a hollow dot: the connection begins
            p.setBrush(back)
            p.drawEllipse(QPointF(client_x, line_y), 4.5, 4.5)
        if arrow.closes:  # a bar: it has ended (beside the dot, when both)
            bar_x = client_x - (10 if arrow.opens else 0)
            p.setPen(QPen(colour, 2.4))
            p.drawLine(QPointF(bar_x, line_y - 5), QPointF(bar_x, line_y + 5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        self._paint_label(p, lay, arrow, x0, x1, y, dx, back, current)

    def holding(self, arrow: Arrow) -> bool:
        """Whether a Wire holds the arrow's message now (step mode, not yet let go)."""
        source = self.model.source
        return source is not None and source.holding(arrow.message)

    def fault(self, arrow: Arrow) -> bool:
        """Drawn red: the lab injected it, but not the Wire's note of held bytes (step
        mode holds what the user asked it to; nothing went wrong)."""
        return arrow.fault and not arrow.message.held

    def label_text(self, arrow: Arrow) -> str:
        """The words above an arrow: a held message says so until it is let go (the
        Wire's note of held bytes says it in its summary)."""
        message = arrow.message
        held = "held: " if self.holding(arrow) and not message.injected else ""
        return held + ("⚠ " if message.malformed else "") + message.summary

    def _paint_label(self, p: QPainter, lay: Layout, arrow: Arrow, x0: float, x1: float,
                     y: int, dx: int, back: QColor, current: bool) -> None:
        """The summary above the arrow, centred on it; a row has one arrow, so a long
        summary may reach past the arrow's ends, across the whole row if need be."""
        message = arrow.message
        text = self.label_text(arrow)
        left, right = lay.gutter + 2.0 - dx, lay.width - 2.0 - dx  # the whole row
        room = int(min(right - left - 8, max(abs(x1 - x0) - 28,
                                             self.fm.horizontalAdvance(text) + 4)))
        label = self.fm.elidedText(text, Qt.TextElideMode.ElideRight, room)
        width = self.fm.horizontalAdvance(label) + 8
        start = min(max((x0 + x1 - width) / 2, left), right - width)
        box = QRectF(start, y + 3, width, self.fm.height())
        p.fillRect(box, back)
        if current:
            p.setPen(self.palette.highlightedText().color())
        elif self.fault(arrow) or message.malformed:
            p.setPen(meaning("fault", self.palette, self.look))
        else:
            p.setPen(self.palette.text().color())
        p.setFont(self.font)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, label)


def _over(tint: QColor, base: QColor) -> QColor:
    """``tint`` (with alpha) laid over ``base``, as one opaque colour."""
    a = tint.alphaF()
    return QColor.fromRgbF(tint.redF() * a + base.redF() * (1 - a),
                           tint.greenF() * a + base.greenF() * (1 - a),
                           tint.blueF() * a + base.blueF() * (1 - a))
