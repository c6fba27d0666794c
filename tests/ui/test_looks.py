"""The looks in the real window: faint, good and error text take the colours of the
look in use, readable on its window colour (WCAG contrast of 4.5 at least), and
follow a change of look without being made again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from lab.model import NodeState
from tests.ui.helpers import click
from ui import theme
from ui.mainwindow import MainWindow
from ui.panels.http_composer import HttpComposerPanel
from ui.panels.http_server import HttpServerPanel

WAIT = 15000
LOOKS = (theme.Look.DARK, theme.Look.HIGH_CONTRAST, theme.Look.LIGHT)


def luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
            + 0.0722 * linear(colour.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_ratio_is_wcags() -> None:
    assert contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)


@pytest.fixture
def looks(qapp: QApplication) -> Iterator[None]:
    """Lets a test change the look; the light look (and no style sheet) after it."""
    try:
        yield
    finally:
        theme.apply(qapp, theme.Look.LIGHT)
        qapp.setStyleSheet("")


def text_colour(label: QLabel) -> QColor:
    return label.palette().color(QPalette.ColorRole.WindowText)


TEXT_MEANINGS = ("faint", "good", "bad", "warn", "info", "accent", "client", "server", "fault")


@pytest.mark.parametrize("look", LOOKS)
def test_every_text_colour_is_readable_on_the_looks_backgrounds(
        qapp: QApplication, looks: None, look: theme.Look) -> None:
    theme.apply(qapp, look)
    palette = qapp.palette()
    backgrounds = [palette.color(role) for role in (
        QPalette.ColorRole.Window, QPalette.ColorRole.Base, QPalette.ColorRole.AlternateBase)]
    backgrounds.append(theme.qcolour("box"))
    for meaning in TEXT_MEANINGS:
        for background in backgrounds:
            ratio = contrast(theme.qcolour(meaning), background)
            assert ratio >= 4.5, (meaning, theme.colour(meaning), background.name(), ratio)
    text = palette.color(QPalette.ColorRole.Text)
    for tint in ("malformed-tint", "partner-tint"):  # rows the inspector tints
        assert contrast(text, theme.qcolour(tint)) >= 7
        for sender in ("client", "server"):  # its From → To column on them
            assert contrast(theme.qcolour(sender), theme.qcolour(tint)) >= 4.5, (sender, tint)


def test_faint_and_error_text_is_readable_in_every_look(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, qapp: QApplication, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, looks: None) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    window.server_actions["http"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(p, HttpServerPanel)
                                for p in window.servers.panels()), timeout=WAIT)
    server = next(p for p in window.servers.panels() if isinstance(p, HttpServerPanel))
    qtbot.waitUntil(lambda: server.info.state is NodeState.RUNNING, timeout=WAIT)
    window.client_actions["http"].trigger()
    qtbot.waitUntil(lambda: len(window.clients.panels()) == 1, timeout=WAIT)
    good = window.clients.panels()[0]
    assert isinstance(good, HttpComposerPanel)
    good.url_combo.setEditText(f"http://{server.info.address}/")
    click(qtbot, good.send_button)
    qtbot.waitUntil(lambda: "200 OK" in good.status_label.text(), timeout=WAIT)
    window.client_actions["http"].trigger()
    qtbot.waitUntil(lambda: len(window.clients.panels()) == 2, timeout=WAIT)
    bad = window.clients.panels()[1]
    assert isinstance(bad, HttpComposerPanel)
    bad.url_combo.setEditText("ftp://nowhere/")
    click(qtbot, bad.send_button)
    qtbot.waitUntil(lambda: "only http://" in bad.error_text, timeout=WAIT)

    toned = {"faint": [good.timing_label, server.site_label],
             "good": [good.status_label, server.dot],  # 2xx; running
             "bad": [bad.error_label, bad.status_label]}
    seen: dict[str, set[str]] = {meaning: set() for meaning in toned}
    for look in LOOKS:
        theme.apply(qapp, look)
        qapp.processEvents()
        window_colour = window.palette().color(QPalette.ColorRole.Window)
        for meaning, labels in toned.items():
            for label in labels:
                colour = text_colour(label)
                assert colour.name() == theme.colour(meaning), (look, meaning, label.text())
                assert contrast(colour, window_colour) >= 4.5, (look, meaning, colour.name())
            seen[meaning].add(theme.colour(meaning))
        # rich text is made again in the new look's colours
        assert theme.colour("faint") in good.status_label.text()
    assert all(len(colours) == len(LOOKS) for colours in seen.values())
    assert window.palette().color(QPalette.ColorRole.Window).lightness() > 200  # light again


def test_a_font_a_widget_sets_itself_survives_a_change_of_look(  # type: ignore[no-untyped-def]
        window: MainWindow, qapp: QApplication, looks: None) -> None:
    """A zoom sets the fonts of widgets that have their own (the column titles); a new
    style sheet would put back the one they had when first styled."""
    header = window.clients.header
    assert header.font().bold()
    assert header.font().pointSizeF() == pytest.approx(qapp.font().pointSizeF() * 1.2)
    bigger = QFont(header.font())
    bigger.setPointSizeF(header.font().pointSizeF() * 1.5)
    header.setFont(bigger)
    theme.apply(qapp, theme.Look.DARK)
    qapp.processEvents()
    assert header.font().pointSizeF() == pytest.approx(bigger.pointSizeF())
