"""The wheel over a panel's field in a column scrolls the column at its own speed
unless the field has the focus; a combo or spin box keeps its value."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.views.column import PanelColumn

DOWN = QPoint(0, -120)  # one notch of a mouse wheel, towards the user


def make_column(qtbot) -> PanelColumn:  # type: ignore[no-untyped-def]
    """A short column of four panels, each with a label and one field of each kind."""
    column = PanelColumn("Clients", "they ask", "empty")
    qtbot.addWidget(column)
    for n in range(4):
        panel = QGroupBox(f"panel {n}")
        layout = QVBoxLayout(panel)
        layout.addWidget(QLabel("some words", panel))
        layout.addWidget(QLineEdit("text", panel))
        combo = QComboBox(panel)
        combo.addItems(["one", "two", "three"])
        layout.addWidget(combo)
        spin = QSpinBox(panel)
        spin.setValue(5)
        layout.addWidget(spin)
        edit = QPlainTextEdit("\n".join(f"line {i}" for i in range(40)), panel)
        edit.setFixedHeight(60)
        layout.addWidget(edit)
        column.add(panel)
    column.resize(320, 300)
    column.show()
    qtbot.waitExposed(column)
    bar = column.scroll_area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 400, timeout=15000)
    return column


def wheel_over(column: PanelColumn, widget: QWidget) -> int:
    """Put the column at its top, turn the wheel once over ``widget``; how far the
    column scrolled."""
    bar = column.scroll_area.verticalScrollBar()
    bar.setValue(0)
    where = widget.mapTo(column, QPoint(widget.width() // 2, widget.height() // 2))
    window = column.windowHandle()
    assert window is not None
    QTest.wheelEvent(window, QPointF(where), DOWN)
    return bar.value()


def first(column: PanelColumn, cls: type[QWidget]) -> QWidget:
    return column.panels()[0].findChildren(cls)[0]


def test_the_wheel_over_a_field_scrolls_the_column_as_over_words(qtbot) -> None:  # type: ignore[no-untyped-def]
    column = make_column(qtbot)
    label = first(column, QLabel)
    step = wheel_over(column, label)
    assert step > 0
    combo = first(column, QComboBox)
    spin = first(column, QSpinBox)
    edit = first(column, QPlainTextEdit)
    assert isinstance(combo, QComboBox) and isinstance(spin, QSpinBox)
    assert isinstance(edit, QPlainTextEdit)
    for field in (first(column, QLineEdit), combo, spin, edit):
        assert wheel_over(column, field) == step, type(field).__name__
    assert combo.currentIndex() == 0 and spin.value() == 5
    assert edit.verticalScrollBar().value() == 0
    assert not (combo.hasFocus() or spin.hasFocus())


def test_a_read_only_text_scrolls_itself(qtbot) -> None:  # type: ignore[no-untyped-def]
    column = make_column(qtbot)
    edit = first(column, QPlainTextEdit)
    assert isinstance(edit, QPlainTextEdit)
    edit.setReadOnly(True)  # a page or a reply to read, not a field to fill
    assert wheel_over(column, edit) == 0
    assert edit.verticalScrollBar().value() > 0


def test_a_focused_field_takes_the_wheel(qtbot) -> None:  # type: ignore[no-untyped-def]
    column = make_column(qtbot)
    combo, spin = first(column, QComboBox), first(column, QSpinBox)
    assert isinstance(combo, QComboBox) and isinstance(spin, QSpinBox)
    column.activateWindow()
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus, timeout=15000)
    assert wheel_over(column, combo) == 0
    assert combo.currentIndex() == 1
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=15000)
    assert wheel_over(column, spin) == 0
    assert spin.value() == 4


def test_fields_a_panel_adds_later_are_watched_too(qtbot) -> None:  # type: ignore[no-untyped-def]
    column = make_column(qtbot)
    panel = column.panels()[0]
    later = QComboBox(panel)
    later.addItems(["a", "b"])
    layout = panel.layout()
    assert layout is not None
    layout.addWidget(later)
    later.show()
    bar = column.scroll_area.verticalScrollBar()
    qtbot.waitUntil(lambda: later.isVisible() and later.height() > 0, timeout=15000)
    qtbot.waitUntil(lambda: bool(later.property("cslab-column-wheel")), timeout=15000)
    assert wheel_over(column, later) > 0
    assert later.currentIndex() == 0
    assert bar.value() > 0
