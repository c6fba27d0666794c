"""Zoom and presentation mode: the lab readable from the back of a classroom.

``Presentation`` scales every font in the window by a zoom factor (Ctrl+= and
Ctrl+- step through ``STEPS``, Ctrl+0 goes back to 100%), together with what
was sized from a font when it was made: table row heights and column widths.
Presentation mode (F11) goes full screen at its own zoom (150% at first),
hides the secondary panes the window names, and gives the rest the room.
Leaving it restores the window as it was. Both zooms and the look are
remembered in QSettings.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication, QHeaderView, QMainWindow, QSplitter, QTableView, QWidget

STEPS = (70, 80, 90, 100, 110, 125, 150, 175, 200, 250, 300)
NORMAL_KEY = "view/zoom"
PRESENTING_KEY = "view/presentation-zoom"
DEFAULT_PRESENTING = 150

_BASE_POINTS = "cslabBasePoints"  # a widget's own font size at 100%
_BASE_ROW = "cslabBaseRow"
_BASE_COLUMNS = "cslabBaseColumns"
_ZOOMING = "cslabZooming"  # on a table: its columns are being resized for a zoom
_SCALE = "cslabScale"  # on the application: the zoom in use, as a factor


def current_scale() -> float:
    """The zoom in use as a factor (1.0 = 100%). A widget that sets its own font
    should take the size from the application font, so that it starts at this
    zoom like everything else."""
    app = QApplication.instance()
    value = app.property(_SCALE) if app is not None else None
    return float(value) if value else 1.0


def fit_rows(table: QTableView) -> None:
    """Make ``table``'s rows as high as its font needs (a line and 6 pixels at 100%,
    both at the zoom in use). Made at any zoom, the table then has the rows of one
    made at 100% and zoomed: a fixed pixel height would be taken as already zoomed."""
    line = QFontMetrics(table.font()).height()
    table.verticalHeader().setDefaultSectionSize(line + round(6 * current_scale()))


def text_width(widget: QWidget, sample: str, pad: int = 18) -> int:
    """Pixels for ``sample`` in ``widget``'s font and ``pad`` (at 100%) around it: a
    column width that is right at the zoom in use (see fit_rows)."""
    return QFontMetrics(widget.font()).horizontalAdvance(sample) + round(pad * current_scale())


def _stored_zoom(settings: QSettings, key: str, default: int) -> int:
    try:
        value = int(str(settings.value(key, default)))
    except ValueError:
        return default
    return min(STEPS, key=lambda step: abs(step - value))


class Presentation(QObject):
    """Zoom and presentation mode for ``window``.

    ``secondary`` names the widgets presentation mode hides; ``layout`` is called
    (after they are hidden) to share the room among the rest, e.g. by setting
    splitter sizes, and again once the new fonts and the full screen have arrived
    and after each zoom while presenting (``relayout_soon`` asks for that too);
    splitters found in the window get their sizes back on leave.
    """

    toggled = Signal(bool)
    zoomed = Signal(int)

    def __init__(self, window: QMainWindow, settings: QSettings,
                 secondary: Callable[[], list[QWidget]],
                 layout: Callable[[], None] | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.secondary = secondary
        self.layout = layout
        self.active = False
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        self.app = app
        self.base_font = QFont(app.font())
        self.zoom = 100
        self._hidden: list[QWidget] = []
        self._splitters: list[tuple[QSplitter, list[int]]] = []
        self._state = Qt.WindowState.WindowNoState
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(0)
        self._relayout.timeout.connect(self._layout_if_presenting)
        self.set_zoom(_stored_zoom(settings, NORMAL_KEY, 100), remember=False)

    # ---- zoom ----------------------------------------------------------------------

    def _key(self) -> str:
        return PRESENTING_KEY if self.active else NORMAL_KEY

    def zoom_in(self) -> None:
        self.set_zoom(next((s for s in STEPS if s > self.zoom), STEPS[-1]))

    def zoom_out(self) -> None:
        self.set_zoom(next((s for s in reversed(STEPS) if s < self.zoom), STEPS[0]))

    def default_presenting(self) -> int:
        """Presentation's first zoom: 150%, or 125% on a screen under 1600 pixels wide
        (a 1280×720 projector), where 150% leaves the diagram too little room."""
        screen = self.window.screen()
        narrow = screen is not None and screen.availableGeometry().width() < 1600
        return 125 if narrow else DEFAULT_PRESENTING

    def reset_zoom(self) -> None:
        self.set_zoom(self.default_presenting() if self.active else 100)

    def set_zoom(self, percent: int, *, remember: bool = True) -> None:
        """Scale every font (and what was sized by one) to ``percent`` of normal."""
        percent = min(max(percent, STEPS[0]), STEPS[-1])
        self.zoom = percent
        if remember:
            self.settings.setValue(self._key(), percent)
        scale = percent / 100
        old = current_scale()
        font = QFont(self.base_font)
        font.setPointSizeF(self.base_font.pointSizeF() * scale)
        if scale != old or self.app.font() != font:  # (not at a start at 100%: it costs)
            self.app.setFont(font)
            sheet = self.app.styleSheet()
            if sheet:  # with a style sheet, the application font reaches widgets only so
                self.app.setStyleSheet(sheet)
            for widget in [self.window, *self.window.findChildren(QWidget)]:
                _scale_widget(widget, scale, old)
        self.app.setProperty(_SCALE, scale)
        self.relayout_soon()
        self.zoomed.emit(percent)

    # ---- presentation mode ---------------------------------------------------------

    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def enter(self) -> None:
        if self.active:
            return
        self.active = True
        self._state = self.window.windowState()
        self._splitters = [(s, s.sizes()) for s in self.window.findChildren(QSplitter)]
        self._hidden = [w for w in self.secondary() if w.isVisible()]
        for widget in self._hidden:
            widget.hide()
        self.set_zoom(_stored_zoom(self.settings, PRESENTING_KEY, self.default_presenting()),
                      remember=False)
        self.window.showFullScreen()
        self._layout_if_presenting()
        self.relayout_soon()  # the fonts and the full screen may arrive by events
        self.toggled.emit(True)

    def relayout_soon(self) -> None:
        """Share the room again, once pending events are handled, if presenting."""
        if self.active and self.layout is not None:
            self._relayout.start()

    def _layout_if_presenting(self) -> None:
        if self.active and self.layout is not None:
            self.layout()

    def leave(self) -> None:
        if not self.active:
            return
        self.active = False
        for widget in self._hidden:
            widget.show()
        self._hidden = []
        self.set_zoom(_stored_zoom(self.settings, NORMAL_KEY, 100), remember=False)
        self.window.setWindowState(self._state)
        self.window.show()
        for splitter, sizes in self._splitters:
            splitter.setSizes(sizes)
        self._splitters = []
        self.toggled.emit(False)


def _scale_widget(widget: QWidget, scale: float, old: float) -> None:
    """Scale what the application font does not reach: a font set on the widget
    itself, a table's row height and its fixed column widths. Whatever is seen
    for the first time was made at the ``old`` zoom."""
    if widget.testAttribute(Qt.WidgetAttribute.WA_SetFont):
        base = widget.property(_BASE_POINTS)
        if base is None:
            base = widget.font().pointSizeF() / old
            widget.setProperty(_BASE_POINTS, base)
        font = QFont(widget.font())
        font.setPointSizeF(float(base) * scale)
        widget.setFont(font)
    if isinstance(widget, QTableView):
        _scale_table(widget, scale, old)


def _scale_table(table: QTableView, scale: float, old: float) -> None:
    rows = table.verticalHeader()
    base_row = table.property(_BASE_ROW)
    if base_row is None:
        base_row = rows.defaultSectionSize() / old
        table.setProperty(_BASE_ROW, base_row)
    rows.setDefaultSectionSize(round(float(base_row) * scale))
    header = table.horizontalHeader()
    model = table.model()
    if model is None:
        return
    base_columns = table.property(_BASE_COLUMNS)
    if base_columns is None:
        base_columns = [header.sectionSize(c) / old for c in range(model.columnCount())]
        table.setProperty(_BASE_COLUMNS, base_columns)
        header.sectionResized.connect(
            lambda column, _was, now: _column_resized(table, column, now))
    table.setProperty(_ZOOMING, True)
    try:
        for column, width in enumerate(base_columns):
            if header.sectionResizeMode(column) is QHeaderView.ResizeMode.Interactive:
                header.resizeSection(column, round(float(width) * scale))
    finally:
        table.setProperty(_ZOOMING, False)


def _column_resized(table: QTableView, column: int, width: int) -> None:
    """A column resized by anyone but the zoom (the user, dragging its edge) keeps
    that width, at 100% as ``width`` over the zoom in use, through later zooms."""
    bases = table.property(_BASE_COLUMNS)
    if table.property(_ZOOMING) or bases is None or not 0 <= column < len(bases):
        return
    bases = list(bases)
    bases[column] = width / current_scale()
    table.setProperty(_BASE_COLUMNS, bases)
