"""The Export ▾ menu: the capture so far as HAR (for a browser's devtools), JSON
Lines (everything, as `cslab serve --capture` writes it) or pcapng (made-up packets
for Wireshark)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QToolButton

from lab.export import ExportError
from ui.commands import Commands
from ui.engine_thread import EngineThread, spawn

#: format → (menu text, file filter, default name, what one item is called)
FORMATS = {
    "har": ("HTTP exchanges as HAR…", "HAR files (*.har)", "capture.har", "HTTP exchange"),
    "jsonl": ("Everything as JSON Lines…", "JSON Lines (*.jsonl)", "capture.jsonl", "record"),
    "pcapng": ("Packets for Wireshark as pcapng…", "pcapng files (*.pcapng)", "capture.pcapng",
               "packet"),
}


class ExportMenu(QToolButton):
    """A toolbar button whose menu saves the capture; the outcome shows in the status bar."""

    def __init__(self, window: QMainWindow, lab: EngineThread) -> None:
        super().__init__(window)
        self.window_ = window
        self.lab = lab
        self.folder = Path.home()
        menu = QMenu(self)
        self.actions_by_format: dict[str, QAction] = {}
        for fmt, (text, _, _, _) in FORMATS.items():
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, f=fmt: self.choose(f))
            self.actions_by_format[fmt] = action
        self.actions_by_format["har"].setShortcut(QKeySequence("Ctrl+E"))
        window.addAction(self.actions_by_format["har"])
        self.setText("Export ▾")
        self.setMenu(menu)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")
        self.setToolTip("Save what the inspector shows: HAR opens in a browser's "
                        "devtools (Ctrl+E)")

    def choose(self, fmt: str) -> None:
        _, filter_, default, _ = FORMATS[fmt]
        path, _ = QFileDialog.getSaveFileName(self.window_, "Export the capture",
                                              str(self.folder / default), filter_)
        if path:
            spawn(self.save(fmt, path))

    async def save(self, fmt: str, path: str) -> int | None:
        """Write the capture to ``path``; says in the status bar how it went."""
        status = self.window_.statusBar()
        try:
            count = await Commands(self.lab).export_capture(fmt, path)
        except ExportError as exc:
            status.showMessage(f"Export failed: {exc}", 10000)
            return None
        self.folder = Path(path).parent
        noun = FORMATS[fmt][3] + ("" if count == 1 else "s")
        status.showMessage(f"Wrote {count} {noun} to {path}", 10000)
        return count
