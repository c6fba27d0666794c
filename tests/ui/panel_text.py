"""What a panel shows, as text a test can search: every label, field, text view,
combo box, check box and table cell in it, whichever tab it is on."""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

#: Table rows read per view (a panel's tables are small; a long log is cut).
ROW_LIMIT = 2000
TAG = re.compile(r"<[^>]+>")


def _cells(view: QAbstractItemView) -> list[str]:
    model = view.model()
    if model is None:
        return []
    out = []
    root = QModelIndex()
    try:
        columns = model.columnCount(root)
    except TypeError:  # a list model: one column (its columnCount is private)
        columns = 1
    for row in range(min(model.rowCount(root), ROW_LIMIT)):
        for column in range(columns):
            value = model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole)
            if value is not None:
                out.append(str(value))
    return out


def panel_text(panel: QWidget) -> str:
    """Everything ``panel`` shows in words, one piece a line (HTML tags dropped)."""
    parts: list[str] = [panel.property("title") or ""]
    for widget in panel.findChildren(QWidget):
        if isinstance(widget, QLabel):
            parts.append(TAG.sub("", widget.text()).replace("&nbsp;", " "))
        elif isinstance(widget, QLineEdit):
            parts.append(widget.text())
        elif isinstance(widget, QTextEdit | QPlainTextEdit):
            parts.append(widget.toPlainText())
        elif isinstance(widget, QComboBox):
            parts.append(widget.currentText())
        elif isinstance(widget, QAbstractItemView):
            parts.extend(_cells(widget))
        elif isinstance(widget, QAbstractButton) and widget.isCheckable():
            parts.append(f"{widget.text()}: {'on' if widget.isChecked() else 'off'}")
    return "\n".join(p for p in parts if p)


def checked(panel: QWidget, word: str) -> bool | None:
    """Whether the check box of ``panel`` whose label has ``word`` is checked (None:
    no such check box)."""
    boxes = panel.findChildren(QCheckBox)
    for box in boxes:  # by its label first, then by its tooltip
        if word.lower() in box.text().lower():
            return box.isChecked()
    for box in boxes:
        if word.lower() in box.toolTip().lower():
            return box.isChecked()
    return None
