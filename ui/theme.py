"""Light, dark and high-contrast looks, and the colours panels use for meaning.

The lab draws with Qt's Fusion style so that a palette means the same on every
desktop. ``System`` follows the desktop's colour scheme (and its changes);
``High contrast`` is black on white with strong accents, which survives a
washed-out classroom projector. Widgets never hard-code a colour for meaning
(faint, good, bad, …): a label takes a *tone* (``set_tone(label, "faint")``),
which the application's style sheet colours for the look in use, so it
follows every change of look by itself; rich text asks ``colour(name)`` when
it is made (and again on ``on_look_change``), and models ask ``qcolour(name)``
when they are painted.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget


class Look(StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"
    HIGH_CONTRAST = "high-contrast"


TITLES = {Look.SYSTEM: "Follow the system", Look.LIGHT: "Light", Look.DARK: "Dark",
          Look.HIGH_CONTRAST: "High contrast (for projectors)"}

#: Colours that carry meaning, per resolved look (never SYSTEM). Text colours keep a
#: contrast of 4.5 (WCAG AA) on the look's window and base colours (tests/ui/test_looks.py).
_MEANINGS: dict[Look, dict[str, str]] = {
    Look.LIGHT: {"faint": "#6a6a6a", "good": "#28702c", "bad": "#c62828", "warn": "#9a4f00",
                 "info": "#1f5ea8", "accent": "#8b1a8b", "client": "#1f5ea8",
                 "server": "#1b7040", "fault": "#c62828", "box": "#f4f4f4",
                 "box-border": "#dddddd", "malformed-tint": "#ffd6d6",
                 "partner-tint": "#ffecaa"},
    Look.DARK: {"faint": "#a0a0a0", "good": "#7bc47f", "bad": "#ff6e6e", "warn": "#f0a040",
                "info": "#7fb2f0", "accent": "#d58fe0", "client": "#7fb2f0",
                "server": "#6fd08c", "fault": "#ff6e6e", "box": "#2f3136",
                "box-border": "#4a4d52", "malformed-tint": "#5c2a2a",
                "partner-tint": "#4a3d12"},
    Look.HIGH_CONTRAST: {"faint": "#303030", "good": "#005a00", "bad": "#b00000",
                         "warn": "#7a3a00", "info": "#0030a0", "accent": "#6a006a",
                         "client": "#0030a0", "server": "#005a00", "fault": "#c00000",
                         "box": "#ffffff", "box-border": "#000000",
                         "malformed-tint": "#ffc0c0", "partner-tint": "#ffe060"},
}

_current = Look.LIGHT
_watching: QObject | None = None


def resolved(look: Look) -> Look:
    """``look`` with SYSTEM replaced by what the desktop asks for now."""
    if look is not Look.SYSTEM:
        return look
    hints = QGuiApplication.styleHints()
    dark = hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark
    return Look.DARK if dark else Look.LIGHT


def current() -> Look:
    """The resolved look in use (LIGHT until ``apply`` is called)."""
    return _current


def colour(name: str, look: Look | None = None) -> str:
    """The ``#rrggbb`` for a meaning (faint, good, bad, warn, info, client, server,
    fault, box, box-border) in ``look`` (a resolved one), else the look in use."""
    return _MEANINGS[look or _current][name]


def qcolour(name: str, look: Look | None = None) -> QColor:
    return QColor(colour(name, look))


#: Tones a widget may take (``set_tone``), and the style each gives in a look.
TONES: dict[str, str] = {
    "faint": "color: {faint};",
    "good": "color: {good};",
    "bad": "color: {bad};",
    "warn": "color: {warn};",
    "info": "color: {info};",
    "hint": "color: {faint}; padding: 12px;",
    "box": "background: {box}; border: 1px solid {box-border}; padding: 4px;",
    "primary": "font-weight: bold; color: {info}; border: 2px solid {info}; "
               "border-radius: 4px; padding: 6px 16px;",
}


def style_sheet(look: Look) -> str:
    """The application's style sheet for a resolved look: one rule per tone."""
    meanings = _MEANINGS[look]
    rules = []
    for tone, style in TONES.items():
        for name, value in meanings.items():
            style = style.replace("{" + name + "}", value)
        rules.append(f'*[tone="{tone}"] {{ {style} }}')
    return "\n".join(rules)


def set_tone(widget: QWidget, tone: str | None) -> None:
    """Give ``widget`` one of TONES (None: back to plain); it follows the look."""
    if tone is not None and tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}; known: {', '.join(TONES)}")
    if widget.property("tone") == tone:
        return
    widget.setProperty("tone", tone)
    if widget.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):  # else: when first shown
        style = widget.style()
        style.unpolish(widget)
        style.polish(widget)


def span(text: str, meaning: str) -> str:
    """``text`` (already HTML) in the colour of ``meaning``, for rich text."""
    return f"<span style='color:{colour(meaning)}'>{text}</span>"


class _LookWatch(QObject):
    """Calls ``render`` when its widget's palette changes with the look."""

    def __init__(self, widget: QWidget, render: Callable[[], None]) -> None:
        super().__init__(widget)
        self._render = render
        self._look = _current
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.PaletteChange and self._look is not _current:
            self._look = _current  # once: a tone's repolish changes the palette too
            self._render()
        return False


def on_look_change(widget: QWidget, render: Callable[[], None]) -> None:
    """Call ``render`` whenever the look changes, while ``widget`` lives: for rich
    text that carries colours (``span``), which must be made again to follow."""
    _LookWatch(widget, render)


def apply(app: QApplication, look: Look) -> Look:
    """Use ``look`` for the whole application; returns the resolved look.

    With SYSTEM, a later change of the desktop's scheme is followed."""
    global _current, _watching
    # a new style (sheet) gives a widget back the font it had when first styled
    # (before a zoom, say): keep the fonts widgets have now
    own_fonts = [(w, QFont(w.font())) for w in app.allWidgets()
                 if w.testAttribute(Qt.WidgetAttribute.WA_SetFont)]
    app.setStyle("Fusion")
    _current = resolved(look)
    app.setPalette(palette(_current, app))
    app.setStyleSheet(style_sheet(_current))
    for widget, font in own_fonts:
        if widget.font() != font:
            widget.setFont(font)
    hints = app.styleHints()
    if _watching is not None:
        hints.colorSchemeChanged.disconnect(_follow)
        _watching = None
    if look is Look.SYSTEM:
        hints.colorSchemeChanged.connect(_follow)
        _watching = hints
    return _current


def _follow(*_: object) -> None:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        apply(app, Look.SYSTEM)


def palette(look: Look, app: QApplication) -> QPalette:
    style = app.style()
    base = style.standardPalette() if style is not None else QPalette()
    if look is Look.LIGHT:
        return base
    if look is Look.DARK:
        return _palette(base, window="#26282b", text="#e8e8e8", base_="#1d1f21",
                        alternate="#26282b", button="#303236", highlight="#3d6fb4",
                        highlighted_text="#ffffff", link="#8ab4f8", mid="#4a4d52",
                        disabled="#808080", tooltip="#303236")
    return _palette(base, window="#ffffff", text="#000000", base_="#ffffff",
                    alternate="#ececec", button="#f0f0f0", highlight="#0030a0",
                    highlighted_text="#ffffff", link="#0030a0", mid="#000000",
                    disabled="#505050", tooltip="#ffffe0")


def _palette(base: QPalette, *, window: str, text: str, base_: str, alternate: str,
             button: str, highlight: str, highlighted_text: str, link: str, mid: str,
             disabled: str, tooltip: str) -> QPalette:
    pal = QPalette(base)
    role = QPalette.ColorRole
    for each, value in ((role.Window, window), (role.WindowText, text), (role.Base, base_),
                        (role.AlternateBase, alternate), (role.Text, text),
                        (role.Button, button), (role.ButtonText, text),
                        (role.Highlight, highlight), (role.HighlightedText, highlighted_text),
                        (role.Link, link), (role.ToolTipBase, tooltip),
                        (role.ToolTipText, text), (role.PlaceholderText, disabled),
                        (role.Mid, mid), (role.BrightText, "#ffffff")):
        pal.setColor(each, QColor(value))
    group = QPalette.ColorGroup.Disabled
    for each in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(group, each, QColor(disabled))
    return pal
