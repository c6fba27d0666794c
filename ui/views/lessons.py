"""The Lesson menu: open a built-in lesson or a scenario file, then run its steps one
by one with Next step, the presenter's text shown large above the lab.

A lesson's servers and clients are made on the engine (their panels appear as for
any node), so the user can still click anything between steps. Opening a lesson
(another, or the same one again with Restart lesson) starts clean: the lesson before
makes way, and the capture is emptied (saved first if the user asks), so the
inspector, the wire's lanes, the filter and the selection start empty. A lesson whose
``[wire]`` has ``step = true`` turns step mode on for its Wires (every Wire, or the
one of ``[wire] server``): each message then waits at the Wire for Forward.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QToolBar,
    QToolButton,
)

from lab.commands import run_sync
from lab.engine import EngineError
from lab.scenario import Scenario, ScenarioError, lessons, load
from lab.scenario_save import SaveError, save
from ui.engine_thread import EngineThread, spawn
from ui.views.banner import Banner
from ui.views.wire_controls import WireControls

if TYPE_CHECKING:  # running a lesson needs every client (aiohttp…): imported when one opens
    from lab.scenario_run import Runner, StepResult
    from ui.views.capture_file import CaptureFiles

NEXT_SHORTCUT = "F6"
RESTART_SHORTCUT = "Ctrl+F6"
OPEN_FILTER = "Scenarios (*.toml);;All (*)"
CAPTURE_FILTER = "Lab captures (*.cslab)"
#: The answers to "Save the capture first?".
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


async def finished(dialog: QDialog) -> int:
    """Show ``dialog`` (window-modal, without a nested event loop: a coroutine waits
    here while the engine and the window go on) and give its result code."""
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def answered(code: int) -> None:
        if not done.done():
            done.set_result(int(code))

    dialog.finished.connect(answered)
    dialog.open()
    try:
        return await done
    finally:
        dialog.deleteLater()


async def ask_save_first(window: QMainWindow, count: int) -> str:
    """Ask whether to save the capture (``count`` messages) before a lesson empties it:
    SAVE, DISCARD or CANCEL (the box is the window's child named "save-first")."""
    box = QMessageBox(QMessageBox.Icon.Question, "Save the capture first?",
                      f"Save the capture first? The lesson starts with an empty capture: "
                      f"its {count} message{'s' if count != 1 else ''} will be gone.",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, window)
    box.setObjectName("save-first")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = await finished(box)
    if answer == QMessageBox.StandardButton.Save:
        return SAVE
    return DISCARD if answer == QMessageBox.StandardButton.Discard else CANCEL


async def ask_capture_path(window: QMainWindow, folder: Path) -> str:
    """Where to save the capture (a .cslab file), or "" if the user cancels."""
    dialog = QFileDialog(window, "Save the capture", str(folder / "capture.cslab"),
                         CAPTURE_FILTER)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix("cslab")
    if await finished(dialog) != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return ""
    return dialog.selectedFiles()[0]


def step_words(scenario: Scenario, result: StepResult) -> str:
    """The banner's words after a step: which step, and what it is about."""
    step = result.step
    lines = [f"Step {result.number} of {len(scenario.steps)} · {step.client}: {step.action}"]
    if step.say:
        lines.append(step.say)
    return "\n".join(lines)


def step_result(result: StepResult) -> str:
    """The banner's result box after a step: the checks, then all the client got
    back (as ``cslab run`` prints it)."""
    lines = [str(check) for check in result.checks]
    if result.outcome.shown:
        lines.append("⇒ " + result.outcome.shown.replace("\r\n", "\n"))
    return "\n".join(lines)


class LessonControls:
    """The Lesson ▾ button, the Next step action and the presenter's bar of ``window``."""

    def __init__(self, window: QMainWindow, lab: EngineThread,
                 wire_controls: WireControls | None = None,
                 capture_files: CaptureFiles | None = None) -> None:
        self.window = window
        self.lab = lab
        self.wire_controls = wire_controls
        self.capture_files = capture_files  # how "Save the capture first?" saves
        #: Asks "Save the capture first?" given the message count: SAVE, DISCARD or
        #: CANCEL (tests may replace it).
        self.confirm: Callable[[int], Awaitable[str]] = \
            lambda count: ask_save_first(window, count)
        #: Where to save the capture first; "" to cancel (tests may replace it).
        self.save_path: Callable[[], Awaitable[str]] = \
            lambda: ask_capture_path(window, capture_files.folder if capture_files
                                     else Path.home())
        self.name = ""  # the open lesson's file or built-in name (for Restart)
        self.scenario: Scenario | None = None
        self.runner: Runner | None = None
        self.position = 0
        self.results: list[StepResult] = []
        self._opening = asyncio.Lock()
        #: Shows what a step is about: given the client's and the server's node ids
        #: and, once the step is done, its last message's id (the window sets it).
        self.focus: Callable[[str, str, int | None], None] = lambda *_: None

        menu = QMenu(window)
        self.menu = menu
        self._lessons_listed = False  # read (each lesson's title) when first shown
        menu.aboutToShow.connect(self.list_lessons)
        self._lessons_end = menu.addSeparator()
        self.open_action = menu.addAction("Open scenario…")
        self.open_action.setToolTip("Open a scenario file (.toml) and set it up")
        self.open_action.triggered.connect(self._choose)
        self.save_action = menu.addAction("Save setup as scenario…")
        self.save_action.setToolTip("Save the servers, clients and Wire settings as a "
                                    "scenario file (.toml)")
        self.save_action.triggered.connect(self._choose_save)
        self.button = QToolButton(window)
        self.button.setText("Lesson ▾")
        self.button.setToolTip("Open a built-in lesson or a scenario file")
        self.button.setMenu(menu)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")

        self.next_action = QAction("Next step", window)
        self.next_action.setShortcut(QKeySequence(NEXT_SHORTCUT))
        self.next_action.setToolTip(f"Run the lesson's next step ({NEXT_SHORTCUT})")
        self.next_action.setEnabled(False)
        self.next_action.triggered.connect(lambda: spawn(self.next_step()))
        window.addAction(self.next_action)
        self.restart_action = QAction("Restart lesson", window)
        self.restart_action.setShortcut(QKeySequence(RESTART_SHORTCUT))
        self.restart_action.setToolTip("Set the lesson up again, fresh, from step 1, with "
                                       f"an empty capture ({RESTART_SHORTCUT})")
        self.restart_action.setEnabled(False)
        self.restart_action.triggered.connect(lambda: spawn(self.restart()))
        window.addAction(self.restart_action)
        menu.insertAction(self.open_action, self.restart_action)

        self.banner = Banner(self.next_action, self.restart_action, window)
        self.text = self.banner.text  # the words (tests read them)
        self.bar = QToolBar("Lesson", window)
        self.bar.setObjectName("lesson-bar")
        self.bar.setMovable(False)
        self.bar.addWidget(self.banner)
        window.addToolBarBreak()
        window.addToolBar(self.bar)
        self.bar.hide()

    def list_lessons(self) -> None:
        """Put the built-in lessons at the top of the menu, once."""
        if self._lessons_listed:
            return
        self._lessons_listed = True
        for title, path in lessons():
            action = QAction(title, self.menu)
            action.triggered.connect(lambda _=False, p=str(path): spawn(self.open(p)))
            self.menu.insertAction(self._lessons_end, action)

    def _say(self, text: str, result: str = "") -> None:
        self.banner.say(text, result)
        self.bar.show()

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open scenario", "", OPEN_FILTER)
        if path:
            spawn(self.open(path))

    def _choose_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save setup as scenario",
                                              "setup.toml", OPEN_FILTER)
        if path:
            spawn(self.save(path if path.endswith(".toml") else f"{path}.toml"))

    async def save(self, path: str) -> bool:
        """Save the current setup as a scenario at ``path``; the outcome (or the
        reason it failed) in the status bar."""
        try:
            await self.lab.call(run_sync, save, self.lab.engine, path)
        except (SaveError, ValueError) as exc:
            self.window.statusBar().showMessage(f"Cannot save the setup: {exc}", 10000)
            return False
        self.window.statusBar().showMessage(f"Saved the setup as {path}", 10000)
        return True

    async def open(self, name: str) -> bool:
        """Load ``name`` (a file or a built-in lesson's name) and set it up on the engine;
        False (the reason shown in the bar) if it is invalid or a server cannot start.
        Lessons opened quickly one after another are set up one at a time."""
        async with self._opening:
            return await self._open(name)

    async def restart(self) -> bool:
        """Set the open lesson up again, fresh, from step 1 (as opening it does)."""
        return await self.open(self.name) if self.name else False

    async def _open(self, name: str) -> bool:
        try:
            scenario = load(name)
        except ScenarioError as exc:
            self._say(f"Cannot open this scenario:\n{exc}")
            return False
        from lab.scenario_run import Runner

        if not await self._start_clean():
            return False
        runner = Runner(scenario, self.lab.engine)
        self.scenario, self.runner, self.position, self.results = scenario, runner, 0, []
        self.name = name
        self.next_action.setEnabled(False)
        self.restart_action.setEnabled(True)
        try:
            await self.lab.call(runner.setup)
        except (EngineError, ValueError) as exc:
            self._say(f"{scenario.title}: cannot set it up: {exc}")
            return False
        goal = f"\n{scenario.goal}" if scenario.goal else ""
        stepping = await self._step_mode(scenario, runner)
        self._say(f"{scenario.title}{goal}{stepping}\n"
                  f"Press Next step ({NEXT_SHORTCUT}) to begin.")
        self.next_action.setEnabled(bool(scenario.steps))
        if scenario.steps:
            self._focus(runner, scenario.steps[0].client, None)
        self.window.setWindowTitle(f"{scenario.title} — Client-Server Lab")
        return True

    async def _start_clean(self) -> bool:
        """Make way for a lesson: ask "Save the capture first?" if it holds messages
        (False if the user cancels or the save fails: then nothing changed), take the
        lesson before down and empty the capture (every view drops its rows)."""
        engine = self.lab.engine
        held = await self.lab.call(run_sync, len, engine.capture.messages)
        if held:
            answer = await self.confirm(held)
            if answer == CANCEL or (answer == SAVE and not await self._save_capture()):
                return False
        if self.runner is not None:  # the lesson before makes way: its panels go
            runner, self.runner = self.runner, None
            await self.lab.call(runner.teardown)
        await self.lab.call(engine.clear_capture)
        return True

    async def _save_capture(self) -> bool:
        """Save the capture where the user chooses, as Save… does; False if not saved."""
        if self.capture_files is None:
            return False
        path = await self.save_path()
        if not path:
            return False
        return await self.capture_files.save(path) is not None

    async def _step_mode(self, scenario: Scenario, runner: Runner) -> str:
        """Turn step mode on as ``[wire] step`` asks; what to tell the presenter."""
        controls = self.wire_controls
        if not scenario.wire.step or controls is None:
            return ""
        server = scenario.wire.server
        if server:
            await controls.set_step(runner.server_ids[server], True)
            where = f"{server}'s Wire"
        else:
            controls.step_action.blockSignals(True)  # set here, not again by its toggle
            controls.step_action.setChecked(True)
            controls.step_action.blockSignals(False)
            await controls.set_step(None, True)
            where = "every Wire"
        return (f"\nStep mode is on for {where}: each message waits there until you "
                "Forward (F8) it.")

    async def next_step(self) -> StepResult | None:
        """Run the next step and show its text and outcome; None when there is none."""
        runner, scenario = self.runner, self.scenario
        if runner is None or scenario is None or self.position >= len(scenario.steps):
            return None
        self.next_action.setEnabled(False)
        index, self.position = self.position, self.position + 1
        step = scenario.steps[index]
        self._say(f"Step {index + 1} of {len(scenario.steps)} · {step.client}: "
                  f"{step.action}\n{step.say}")
        self._focus(runner, step.client, None)
        result = await self.lab.call(runner.step, index)
        if runner is not self.runner:  # another lesson (or a restart) came meanwhile
            return result
        self.results.append(result)
        last = self.position >= len(scenario.steps)
        self._say(step_words(scenario, result) + ("\nThe lesson is done." if last else ""),
                  step_result(result))
        self.next_action.setEnabled(not last)
        self._focus(runner, step.client, result.messages[-1].id if result.messages else None)
        return result

    def _focus(self, runner: Runner, client: str, message: int | None) -> None:
        """Show the panels of ``client`` (a lesson's name) and of its server, and
        select ``message`` once it is in the window."""
        self.focus(runner.client_ids.get(client, ""), runner.server_id(client), message)
