"""The View menu: presentation mode, zoom and the look, with their shortcuts.

F11 switches presentation mode (Esc leaves it too); Ctrl+= / Ctrl++ zooms in,
Ctrl+- out, Ctrl+0 back to normal. The look (system, light, dark, high
contrast) is remembered in QSettings like the zooms.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QToolButton, QWidget

from ui import theme
from ui.presentation import Presentation

LOOK_KEY = "view/look"


def stored_look(settings: QSettings) -> theme.Look:
    try:
        return theme.Look(str(settings.value(LOOK_KEY, theme.Look.SYSTEM.value)))
    except ValueError:
        return theme.Look.SYSTEM


class ViewControls(QObject):
    """Actions, a menu and a toolbar button for how the window looks."""

    def __init__(self, window: QMainWindow, settings: QSettings,
                 secondary: Callable[[], list[QWidget]],
                 layout: Callable[[], None] | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        self.app = app
        self.look = stored_look(settings)
        theme.apply(app, self.look)
        self.presentation = Presentation(window, settings, secondary, layout)
        self.present_action = self._action(
            "Presentation mode", "F11",
            "Full screen, large text, only the diagram, the panels and the selected "
            "message: for projecting to a class (F11; Esc leaves)")
        self.present_action.setCheckable(True)
        self.present_action.toggled.connect(self._present)
        self.presentation.toggled.connect(self.present_action.setChecked)
        self.leave_action = self._action("Leave presentation mode", "Esc", "")
        self.leave_action.triggered.connect(self.presentation.leave)
        self.leave_action.setEnabled(False)
        self.presentation.toggled.connect(self.leave_action.setEnabled)
        self.zoom_in_action = self._action("Zoom in", "Ctrl+=", "Larger text (Ctrl+=)")
        self.zoom_in_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_in_action.triggered.connect(self.presentation.zoom_in)
        self.zoom_out_action = self._action("Zoom out", "Ctrl+-", "Smaller text (Ctrl+-)")
        self.zoom_out_action.triggered.connect(self.presentation.zoom_out)
        self.zoom_reset_action = self._action("Normal size", "Ctrl+0",
                                              "Text back to its normal size (Ctrl+0)")
        self.zoom_reset_action.triggered.connect(self.presentation.reset_zoom)
        self.look_actions = QActionGroup(self)
        for look in theme.Look:
            action = QAction(theme.TITLES[look], self.look_actions)
            action.setCheckable(True)
            action.setChecked(look is self.look)
            action.setData(look.value)
            action.triggered.connect(lambda _=False, chosen=look: self.set_look(chosen))
        self.menu = self._make_menu()
        self.button = QToolButton(window)
        self.button.setText("View ▾")
        self.button.setMenu(self.menu)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setToolTip("Presentation mode, zoom and light or dark look")
        self.button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")

    def _action(self, text: str, shortcut: str, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setToolTip(tip)
        self.window.addAction(action)
        return action

    def _make_menu(self) -> QMenu:
        menu = QMenu("View", self.window)
        menu.setToolTipsVisible(True)
        menu.addAction(self.present_action)
        menu.addSeparator()
        for action in (self.zoom_in_action, self.zoom_out_action, self.zoom_reset_action):
            menu.addAction(action)
        menu.addSeparator()
        looks = menu.addMenu("Look")
        for action in self.look_actions.actions():
            looks.addAction(action)
        return menu

    def _present(self, on: bool) -> None:
        if on != self.presentation.active:
            self.presentation.toggle()

    def set_look(self, look: theme.Look) -> None:
        """Use ``look`` now and next time."""
        self.look = look
        self.settings.setValue(LOOK_KEY, look.value)
        theme.apply(self.app, look)
        for action in self.look_actions.actions():
            action.setChecked(action.data() == look.value)
