"""The presenter's banner: a lesson's words above the lab, at one fixed height.

The banner never changes height while a lesson runs (the diagram below it must not
jump): its words take the largest size, from PRESENTER_SCALE times the application
font down to MIN_SCALE, at which they fit; longer text scrolls inside. What the
step's client got back (the whole of it, as ``cslab run`` prints it) and the
checks sit to the right, in a box of their own that scrolls. Next step is a real
button at the banner's right, where a presenter looks for it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui import theme

#: The words' size at best, relative to the application font (so zoom scales it).
PRESENTER_SCALE = 1.5
#: The smallest the words shrink to before they scroll instead.
MIN_SCALE = 1.0
#: Lines of the words at PRESENTER_SCALE that the banner is high.
LINES = 4


def _scaled(scale: float) -> QFont:
    font = QFont(QApplication.font())
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    else:
        font.setPixelSize(max(1, round(font.pixelSize() * scale)))
    return font


def _scroller(label: QLabel, parent: QWidget) -> QScrollArea:
    area = QScrollArea(parent)
    area.setWidget(label)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class Banner(QFrame):
    """The words (``text``), the result box (``result``), Next step and Restart."""

    def __init__(self, next_action: QAction, restart_action: QAction,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("presenter-banner")
        self.text = QLabel(self)
        self.text.setObjectName("presenter-text")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text_area = _scroller(self.text, self)
        self.result = QLabel(self)
        self.result.setObjectName("presenter-result")
        self.result.setWordWrap(True)
        self.result.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.result_area = _scroller(self.result, self)
        self.result_area.setFrameShape(QFrame.Shape.StyledPanel)
        self.result_area.setToolTip("What the step's client got back, whole, and the "
                                    "lesson's checks")
        self.result_area.hide()
        self.next_button = QPushButton(self)
        self.next_button.setObjectName("next-step")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(next_action.trigger)
        self._next = next_action
        next_action.changed.connect(self._sync_next)
        self._sync_next()
        self.restart_button = QToolButton(self)
        self.restart_button.setDefaultAction(restart_action)
        buttons = QVBoxLayout()
        buttons.addWidget(self.next_button)
        buttons.addWidget(self.restart_button, 0, Qt.AlignmentFlag.AlignRight)
        buttons.addStretch(1)
        layout = self._layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.text_area, 3)
        layout.addWidget(self.result_area, 2)
        layout.addLayout(buttons)
        self._fit = QTimer(self)  # fitting waits for the new width after a resize
        self._fit.setSingleShot(True)
        self._fit.setInterval(0)
        self._fit.timeout.connect(self.fit)
        self.text_area.viewport().installEventFilter(self)
        self._size()

    def _sync_next(self) -> None:
        action = self._next
        self.next_button.setText(f"{action.text()} ▶")
        self.next_button.setToolTip(action.toolTip())
        self.next_button.setEnabled(action.isEnabled())
        theme.set_tone(self.next_button, "primary" if action.isEnabled() else None)

    # ---- words -----------------------------------------------------------------------

    def say(self, words: str, result: str = "") -> None:
        """Show ``words`` large and ``result`` (if any) in the box beside them."""
        self.text.setText(words)
        self.result.setText(result)
        self.result_area.setVisible(bool(result))
        self.text_area.verticalScrollBar().setValue(0)
        self.result_area.verticalScrollBar().setValue(0)
        self.fit()

    def fit(self) -> None:
        """The words at the largest size (PRESENTER_SCALE to MIN_SCALE) that fits the
        banner's height without scrolling; at MIN_SCALE they scroll."""
        room = self.text_area.viewport().height()
        width = self.text_area.viewport().width()
        if room <= 0 or width <= 0:
            return
        scale = PRESENTER_SCALE
        while scale > MIN_SCALE:
            if self._height_at(scale, width) <= room:
                break
            scale = max(MIN_SCALE, round(scale - 0.1, 2))
        font = _scaled(scale)
        if font != self.text.font():
            self.text.setFont(font)

    def _height_at(self, scale: float, width: int) -> int:
        metrics = QFontMetrics(_scaled(scale))
        flags = int(Qt.TextFlag.TextWordWrap)
        return metrics.boundingRect(0, 0, width, 100_000, flags, self.text.text()).height()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._fit.start()
        return False

    def _size(self) -> None:
        """LINES lines of the words at their best size, and the margins: fixed."""
        line = QFontMetrics(_scaled(PRESENTER_SCALE)).lineSpacing()
        margins = self._layout.contentsMargins()
        self.setFixedHeight(LINES * line + margins.top() + margins.bottom() + 6)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # a zoom: the same lines, larger
            self._size()
            self._fit.start()
