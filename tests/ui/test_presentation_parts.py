"""Zoom, presentation mode and looks on a small window of the kinds of widget the lab uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont, QPalette, QStandardItemModel
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QSplitter, QTableView

from ui import theme
from ui.presentation import DEFAULT_PRESENTING, NORMAL_KEY, PRESENTING_KEY, Presentation


class Stage(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.split = QSplitter(Qt.Orientation.Vertical, self)
        self.main = QLabel("the diagram", self.split)
        self.side = QLabel("secondary", self.split)
        self.own = QLabel("own font", self.split)
        own = QFont(QApplication.font())
        own.setBold(True)
        self.own.setFont(own)
        self.table = QTableView(self.split)
        self.table.setModel(QStandardItemModel(3, 2, self.table))
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setColumnWidth(0, 100)
        self.split.setSizes([300, 100, 50, 100])
        self.setCentralWidget(self.split)
        self.resize(800, 600)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "cslab.ini"), QSettings.Format.IniFormat)


@pytest.fixture(params=["no style sheet", "the looks' style sheet"])
def stage(qapp: QApplication, qtbot, request) -> Iterator[Stage]:  # type: ignore[no-untyped-def]
    font = QFont(qapp.font())
    # with a style sheet, the application font reaches widgets only if it is set again
    qapp.setStyleSheet("" if request.param == "no style sheet"
                       else theme.style_sheet(theme.Look.LIGHT))
    stage = Stage()
    qtbot.addWidget(stage)
    stage.show()
    yield stage
    qapp.setStyleSheet("")
    qapp.setFont(font)
    qapp.setProperty("cslabScale", None)


def points(widget: QLabel | QTableView) -> float:
    QApplication.processEvents()  # the application font reaches widgets by events
    return widget.font().pointSizeF()


def test_zoom_scales_fonts_rows_and_columns_and_is_remembered(
        stage: Stage, settings: QSettings) -> None:
    base, own = points(stage.main), points(stage.own)
    show = Presentation(stage, settings, secondary=lambda: [stage.side])
    show.zoom_in()
    show.zoom_in()  # 100 → 110 → 125
    assert show.zoom == 125
    assert points(stage.main) == pytest.approx(base * 1.25)
    assert points(stage.own) == pytest.approx(own * 1.25)  # a widget's own font too
    assert stage.own.font().bold()
    assert stage.table.verticalHeader().defaultSectionSize() == 25
    assert stage.table.columnWidth(0) == 125
    assert settings.value(NORMAL_KEY) == 125
    show.zoom_out()
    assert show.zoom == 110 and points(stage.main) == pytest.approx(base * 1.1)
    again = Presentation(stage, settings, secondary=lambda: [])
    assert again.zoom == 110  # remembered
    again.set_zoom(100)
    assert points(stage.own) == pytest.approx(own)
    assert stage.table.columnWidth(0) == 100


def test_a_column_width_the_user_set_survives_zooms_and_presenting(
        stage: Stage, settings: QSettings) -> None:
    show = Presentation(stage, settings, secondary=lambda: [stage.side])
    header = stage.table.horizontalHeader()
    header.resizeSection(0, 400)  # as a drag on the column's edge does
    show.zoom_in()  # 110%
    assert stage.table.columnWidth(0) == 440
    header.resizeSection(0, 330)  # dragged while zoomed: 300 at 100%
    show.zoom_out()
    assert stage.table.columnWidth(0) == 300
    show.enter()
    assert stage.table.columnWidth(0) == round(300 * show.zoom / 100)
    show.leave()
    assert stage.table.columnWidth(0) == 300
    show.set_zoom(100)


def test_presentation_mode_hides_secondary_panes_and_restores_them(
        stage: Stage, settings: QSettings, qtbot) -> None:  # type: ignore[no-untyped-def]
    base = points(stage.main)
    sizes = stage.split.sizes()
    laid_out: list[bool] = []
    show = Presentation(stage, settings, secondary=lambda: [stage.side],
                        layout=lambda: laid_out.append(True))
    with qtbot.waitSignal(show.toggled) as on:
        show.toggle()
    assert on.args == [True]
    assert show.active and laid_out == [True]
    assert not stage.side.isVisible() and stage.main.isVisible()
    first = show.default_presenting()  # 150%, or 125% on a screen under 1600 wide
    assert first in (DEFAULT_PRESENTING, 125)
    assert points(stage.main) == pytest.approx(base * first / 100)
    assert stage.windowState() & Qt.WindowState.WindowFullScreen
    show.zoom_in()  # a zoom while presenting is the presentation zoom
    assert settings.value(PRESENTING_KEY) == show.zoom > first
    assert settings.value(NORMAL_KEY) is None
    show.toggle()
    assert not show.active
    assert stage.side.isVisible()
    assert points(stage.main) == pytest.approx(base)
    assert not stage.windowState() & Qt.WindowState.WindowFullScreen
    assert stage.split.sizes() == sizes
    show.enter()
    assert points(stage.main) == pytest.approx(base * int(settings.value(PRESENTING_KEY)) / 100)
    assert show.zoom > first  # its zoom is remembered
    show.leave()


def test_looks_change_the_palette_and_the_colours_of_meaning(qapp: QApplication) -> None:
    before = QPalette(qapp.palette())
    try:
        theme.apply(qapp, theme.Look.DARK)
        assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
        assert qapp.palette().color(QPalette.ColorRole.Text).lightness() > 200
        dark_faint = theme.colour("faint")
        theme.apply(qapp, theme.Look.HIGH_CONTRAST)
        assert qapp.palette().color(QPalette.ColorRole.Window).name() == "#ffffff"
        assert qapp.palette().color(QPalette.ColorRole.Text).name() == "#000000"
        assert theme.colour("faint") != dark_faint
    finally:
        theme.apply(qapp, theme.Look.LIGHT)
        qapp.setPalette(before)


def test_following_the_system_takes_its_scheme_and_its_changes(
        qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    scheme = [Qt.ColorScheme.Light]  # what the desktop asks for

    class Hints:
        def colorScheme(self) -> Qt.ColorScheme:
            return scheme[0]

    class Desktop:
        @staticmethod
        def styleHints() -> Hints:
            return Hints()

    monkeypatch.setattr(theme, "QGuiApplication", Desktop)
    before = QPalette(qapp.palette())
    window = QPalette.ColorRole.Window
    try:
        assert theme.apply(qapp, theme.Look.SYSTEM) is theme.Look.LIGHT
        assert qapp.palette().color(window).name() != "#26282b"
        scheme[0] = Qt.ColorScheme.Dark
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # the desktop turns dark
        assert theme.current() is theme.Look.DARK
        assert qapp.palette().color(window).name() == "#26282b"
        scheme[0] = Qt.ColorScheme.Light
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert qapp.palette().color(window).name() != "#26282b"
        theme.apply(qapp, theme.Look.DARK)  # a chosen look stops following
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert qapp.palette().color(window).name() == "#26282b"
    finally:
        theme.apply(qapp, theme.Look.LIGHT)
        qapp.setStyleSheet("")
        qapp.setPalette(before)


def test_a_tone_follows_the_look(qapp: QApplication, qtbot) -> None:  # type: ignore[no-untyped-def]
    before = QPalette(qapp.palette())
    label = QLabel("faint words")
    qtbot.addWidget(label)
    theme.set_tone(label, "faint")
    label.show()
    try:
        theme.apply(qapp, theme.Look.LIGHT)
        qapp.processEvents()
        assert label.palette().color(QPalette.ColorRole.WindowText).name() == "#6a6a6a"
        theme.apply(qapp, theme.Look.DARK)
        qapp.processEvents()
        assert label.palette().color(QPalette.ColorRole.WindowText).name() == "#a0a0a0"
        theme.set_tone(label, "bad")
        assert label.palette().color(QPalette.ColorRole.WindowText).name() == "#ff6e6e"
        with pytest.raises(ValueError, match="unknown tone"):
            theme.set_tone(label, "loud")
    finally:
        theme.apply(qapp, theme.Look.LIGHT)
        qapp.setStyleSheet("")
        qapp.setPalette(before)
