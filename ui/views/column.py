"""A titled column of node panels (clients on the left, servers on the right)."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QFont, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ui import theme

#: A column title's size, relative to the application font.
TITLE_SCALE = 1.2
#: A column's least width (pixels), however narrow its panels.
MIN_WIDTH = 300
#: A compact column's least width (pixels): presentation mode gives the diagram
#: the room its lanes need, and the panels squeeze (their text elides) instead.
COMPACT_WIDTH = 160
#: The fields in a panel over which the wheel scrolls the column unless they have
#: the focus: a combo or spin box would change its value, a text box scroll itself
#: (a read-only one, a page or reply to read, still does).
WHEEL_FIELDS = (QLineEdit, QComboBox, QAbstractSpinBox, QPlainTextEdit, QTextEdit)
WHEEL_WATCHED = "cslab-column-wheel"  # a field's property, once its wheel is watched

#: What the status bar suggests first, before any server or client is added.
START_HINT = "Add a server and a client to begin."
#: ... once there is a server and no client, or a client and no server.
CLIENT_NEXT = "Add a client with + Client (Ctrl+Shift+C) to talk to the server."
SERVER_NEXT = "Add a server with + Server (Ctrl+Shift+S) for the client to talk to."
#: Every suggestion the status bar makes (so that other messages are left alone).
STEP_HINTS = (START_HINT, CLIENT_NEXT, SERVER_NEXT)
#: The Servers column's words while it is empty.
SERVERS_HINT = "Add a server with + Server: try the HTTP server (Ctrl+Shift+H)."


def next_step(servers: int, clients: int) -> str:
    """What the status bar suggests with ``servers`` servers and ``clients`` clients
    in the lab: the next thing to add, or nothing once there are both."""
    if not servers:
        return SERVER_NEXT if clients else START_HINT
    return "" if clients else CLIENT_NEXT


def clients_hint(server: str | None = None) -> str:
    """The Clients column's words while it is empty: start a server first or, once
    ``server`` (a running server's name) is there, add a client to talk to it."""
    if server is None:
        return "Start a server first (right), then add a client with + Client to talk to it."
    return f"Add a client with + Client (Ctrl+Shift+C) to talk to {server}."


def title_font() -> QFont:
    """Bold, TITLE_SCALE times the application font: it starts at the zoom in use,
    and ui.presentation scales it from there like the rest."""
    font = QFont(QApplication.font())
    font.setBold(True)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * TITLE_SCALE)
    elif font.pixelSize() > 0:
        font.setPixelSize(round(font.pixelSize() * TITLE_SCALE))
    return font


def column_header(title: str, caption: str, parent: QWidget) -> QLabel:
    """``title`` in the title font, followed by a smaller faint ``caption``."""
    label = QLabel(parent)
    label.setFont(title_font())
    label.setContentsMargins(0, 2, 0, 2)
    label.setWordWrap(True)  # a narrow column (or a large zoom) takes two lines

    def show() -> None:
        words = f"<span style='font-weight:normal'><small>{html.escape(caption)}</small></span>"
        label.setText(f"{html.escape(title)}&nbsp; {theme.span(words, 'faint')}")

    show()
    theme.on_look_change(label, show)
    return label


class PanelColumn(QWidget):
    """A header, a hint shown while empty, and panels stacked in a scroll area.

    The column scrolls up and down only: the panels are as wide as the column. It
    asks for the width its widest panel needs (at the zoom in use), so a splitter
    never makes it narrower; panels keep that need small by wrapping and eliding.
    A ``compact`` column (presentation mode) asks for COMPACT_WIDTH only, so that
    the diagram beside it can have what its lanes need.

    The wheel over a panel's field that does not have the focus scrolls the column
    (a combo or spin box keeps its value); a field the user clicked into takes it."""

    def __init__(self, title: str, caption: str, hint: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = column_header(title, caption, self)
        self.hint = QLabel(hint, self)
        theme.set_tone(self.hint, "hint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._holder = QWidget(self)
        # Ignored: the scroll area gives the holder the viewport's width, never more
        self._holder.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._holder.installEventFilter(self)  # its layout changed: so may our minimum
        self._stack = QVBoxLayout(self._holder)
        self._stack.setContentsMargins(0, 0, 4, 0)
        self._stack.setSpacing(8)
        self._stack.addWidget(self.hint)
        self._stack.addStretch(1)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(self._holder)
        self._coming: QWidget | None = None  # a panel just added, to scroll to
        self._compact = False
        self.scroll_area.verticalScrollBar().rangeChanged.connect(self._range_changed)
        layout = self._outer = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.scroll_area, 1)

    @property
    def compact(self) -> bool:
        return self._compact

    @compact.setter
    def compact(self, on: bool) -> None:
        if on != self._compact:
            self._compact = on
            self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        """``needed_width``, or COMPACT_WIDTH alone when compact."""
        hint = super().minimumSizeHint()
        return QSize(COMPACT_WIDTH if self._compact else self.needed_width(), hint.height())

    def needed_width(self) -> int:
        """At least MIN_WIDTH, and wide enough for the widest panel beside the
        vertical scroll bar (compact or not)."""
        panels = max((max(p.minimumSizeHint().width(), p.minimumWidth())
                      for p in self.panels()), default=0)
        outer, inner = self._outer.contentsMargins(), self._stack.contentsMargins()
        bar = self.scroll_area.verticalScrollBar().sizeHint().width()
        need = (panels + outer.left() + outer.right() + inner.left() + inner.right() + bar)
        return max(MIN_WIDTH, super().minimumSizeHint().width(), need)

    def set_hint(self, text: str) -> None:
        """Say ``text`` while the column has no panels."""
        self.hint.setText(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            return self._wheel(watched, event)
        if watched is self._holder and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
            for panel in self.panels():  # a panel may have grown fields
                self._watch_wheel(panel)
        return False

    def _watch_wheel(self, panel: QWidget) -> None:
        """Pass the wheel over ``panel``'s fields (and their viewports) through
        ``_wheel``; a combo or spin box no longer takes the focus from the wheel."""
        for field in panel.findChildren(QWidget):
            if not isinstance(field, WHEEL_FIELDS) or field.property(WHEEL_WATCHED):
                continue
            field.setProperty(WHEEL_WATCHED, True)
            if field.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            field.installEventFilter(self)
            if isinstance(field, QAbstractScrollArea):
                field.viewport().installEventFilter(self)

    def _wheel(self, watched: QObject, event: QWheelEvent) -> bool:
        """The wheel over a field without the focus scrolls the column, at the
        column's own speed; True when the field must not see it."""
        field = watched.parent() if not isinstance(watched, WHEEL_FIELDS) else watched
        if not isinstance(field, WHEEL_FIELDS) or field.hasFocus():
            return False
        if isinstance(field, (QPlainTextEdit, QTextEdit)) and field.isReadOnly():
            return False  # a page or a reply to read, not a field: it scrolls itself
        if event.angleDelta().y():
            QApplication.sendEvent(self.scroll_area.verticalScrollBar(), event)
        # sideways: nothing to scroll here, but a combo or spin box must not change
        return bool(event.angleDelta().y()) or isinstance(field, (QComboBox, QAbstractSpinBox))

    def panels(self) -> list[QWidget]:
        found = []
        for i in range(self._stack.count()):
            item = self._stack.itemAt(i)
            widget = item.widget() if item is not None else None
            if widget is not None and widget is not self.hint:
                found.append(widget)
        return found

    def add(self, panel: QWidget) -> None:
        """Add a panel below the others and bring it into view once it is laid out
        (the scroll bar's range changes then)."""
        self._stack.insertWidget(self._stack.count() - 1, panel)
        for header in panel.findChildren(QHeaderView):  # a narrow table's column titles
            header.setTextElideMode(Qt.TextElideMode.ElideRight)  # end in "…", not cut
        self.hint.hide()
        self._watch_wheel(panel)
        self._coming = panel

    def _range_changed(self, *_: object) -> None:
        panel, self._coming = self._coming, None
        if panel is not None and panel.parent() is self._holder:
            self.scroll_to(panel)

    def scroll_to(self, panel: QWidget) -> None:
        """Scroll down or up so that ``panel``'s top (and as much of it as fits) shows;
        never sideways."""
        bar = self.scroll_area.verticalScrollBar()
        top, height = panel.y(), panel.height()
        view = self.scroll_area.viewport().height()
        if top < bar.value():
            bar.setValue(top)
        elif top + height > bar.value() + view:
            bar.setValue(min(top, top + height - view))
        self.scroll_area.horizontalScrollBar().setValue(0)

    def remove(self, panel: QWidget) -> None:
        if panel is self._coming:
            self._coming = None
        self._stack.removeWidget(panel)
        panel.hide()
        panel.deleteLater()
        self.hint.setVisible(not self.panels())


def share_compactly(splitter: QSplitter, needs: int, view: QAbstractScrollArea,
                    share: float = 0.56) -> None:
    """Make the splitter's outer PanelColumns compact and give its middle widget
    ``share`` of the room (less if the columns need it), and never less than ``view``
    (inside it) needs to show ``needs`` pixels unscrolled; the columns share the rest
    as their panels need it."""
    left, middle, right = (splitter.widget(i) for i in range(3))
    assert left is not None and middle is not None and right is not None
    for column in (left, right):
        if isinstance(column, PanelColumn):
            column.compact = True
    bar = view.verticalScrollBar()
    around = middle.width() - view.viewport().width()  # margins, frame, scroll bar
    if not bar.isVisible():
        around += bar.sizeHint().width()
    room = splitter.width() - 2 * splitter.handleWidth()
    wants = [c.needed_width() if isinstance(c, PanelColumn) else c.minimumSizeHint().width()
             for c in (left, right)]
    least = left.minimumSizeHint().width() + right.minimumSizeHint().width()
    wide = max(min(int(room * share), room - sum(wants)), needs + around)
    wide = min(wide, room - least)
    spare = room - wide
    side = spare * wants[0] // max(1, sum(wants))
    splitter.setSizes([side, wide, spare - side])
