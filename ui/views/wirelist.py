"""The wire: one arrow per message between its client (left) and its server (right).

A one-column view over the inspector's own model with a delegate that paints each
row, so it costs nothing per message beyond what is on screen. It is a QTableView
dressed as a list: measured here, a QListView (even with uniform item sizes) spends
~20 ms per 330-row batch laying out every item, a one-column QTableView ~3 ms. (The full sequence
diagram with one lane per node comes later.)
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QHelpEvent, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
    QWidget,
)

from lab.model import Message, Sender
from ui.models.messages import (
    CLIENT_COLOUR,
    MESSAGE_ROLE,
    SERVER_COLOUR,
    MessageTableModel,
    format_time,
)
from ui.views.follow import RowFollower

FAULT_COLOUR = QColor(200, 40, 40)

#: What the user calls one end of a message (``Sender.CLIENT``: its client, else its
#: server), e.g. a lab node's name; the plain address when nothing better is known.
Namer = Callable[[Message, Sender], str]


def by_address(message: Message, side: Sender) -> str:
    return message.client if side is Sender.CLIENT else message.server


def arrow_text(message: Message, name: Namer = by_address) -> str:
    """The row as words, e.g. ``Echo client #1 ──"hello" (5 bytes)──▶ TCP echo server #1``."""
    client, server = name(message, Sender.CLIENT), name(message, Sender.SERVER)
    if message.sender is Sender.CLIENT:
        return f"{client} ──{message.summary}──▶ {server}"
    return f"{client} ◀──{message.summary}── {server}"


def fit(fm: QFontMetrics, label: str, width: int) -> str:
    """``label`` if it fits in ``width``; else without its `` :port`` tail; else elided."""
    if fm.horizontalAdvance(label) <= width:
        return label
    name, sep, _ = label.rpartition(" :")
    if sep and fm.horizontalAdvance(name) <= width:
        return name
    return fm.elidedText(name or label, Qt.TextElideMode.ElideRight, width)


class ArrowDelegate(QStyledItemDelegate):
    """Paints a message as a labelled arrow: client → server, or server → client."""

    def __init__(self, namer: Namer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.namer = namer

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
                 ) -> QSize:
        return QSize(200, QFontMetrics(option.font).height() + 10)

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView,
                  option: QStyleOptionViewItem,
                  index: QModelIndex | QPersistentModelIndex) -> bool:
        message = index.data(MESSAGE_ROLE)
        if event.type() != QEvent.Type.ToolTip or not isinstance(message, Message):
            return super().helpEvent(event, view, option, index)
        text = (f"#{message.id}  {format_time(message.time)}  {message.connection}\n"
                f"{message.source} → {message.destination}\n{message.summary}")
        QToolTip.showText(event.globalPos(), text, view)
        return True

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        message = index.data(MESSAGE_ROLE)
        if not isinstance(message, Message):
            return
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        background = palette.highlight() if selected else palette.base()
        painter.fillRect(option.rect, background)
        text_colour = palette.highlightedText().color() if selected else palette.text().color()
        rect = option.rect.adjusted(6, 0, -6, 0)
        side = max(60, min(210, rect.width() * 30 // 100))
        left = QRect(rect.left(), rect.top(), side, rect.height())
        right = QRect(rect.right() - side, rect.top(), side, rect.height())
        fm = QFontMetrics(option.font)
        painter.setPen(text_colour)
        for box, end, align in ((left, Sender.CLIENT, Qt.AlignmentFlag.AlignLeft),
                                (right, Sender.SERVER, Qt.AlignmentFlag.AlignRight)):
            label = fit(fm, self.namer(message, end), box.width())
            painter.drawText(box, align | Qt.AlignmentFlag.AlignVCenter, label)
        self._paint_arrow(painter, message, left.right() + 8, right.left() - 8,
                          rect.center().y(), fm, background.color(), selected, text_colour)
        painter.restore()

    def _paint_arrow(self, painter: QPainter, message: Message, x0: int, x1: int, y: int,
                     fm: QFontMetrics, background: QColor, selected: bool,
                     text_colour: QColor) -> None:
        if x1 - x0 < 20:
            return
        to_server = message.sender is Sender.CLIENT
        colour = FAULT_COLOUR if message.malformed else (
            CLIENT_COLOUR if to_server else SERVER_COLOUR)
        if selected:
            colour = text_colour
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(colour, 1.6))
        painter.drawLine(x0, y, x1, y)
        tip, back = (x1, x1 - 8) if to_server else (x0, x0 + 8)
        painter.setBrush(colour)
        painter.drawPolygon(QPolygonF([QPointF(tip, y), QPointF(back, y - 4),
                                       QPointF(back, y + 4)]))
        label = fm.elidedText(message.summary, Qt.TextElideMode.ElideRight, x1 - x0 - 36)
        width = fm.horizontalAdvance(label) + 10
        box = QRect((x0 + x1 - width) // 2, y - fm.height() // 2 - 1, width, fm.height() + 2)
        painter.fillRect(box, background)
        painter.setPen(colour)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)


class WireList(QTableView):
    """The live list of arrows; it follows new messages while the user is at the end."""

    def __init__(self, model: MessageTableModel, namer: Namer = by_address,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        for column in range(1, model.columnCount()):
            self.setColumnHidden(column, True)
        self.horizontalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(QFontMetrics(self.font()).height() + 10)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setItemDelegate(ArrowDelegate(namer, self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.follower = RowFollower(self)

