"""A QR code of an address, for phones: drawn from segno's matrix, one square per
module, with the quiet zone QR readers need around it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QToolButton, QVBoxLayout, QWidget

#: Light modules around the code, as the QR standard asks.
QUIET = 4
#: The banner's button and the larger code shown on a click, in pixels (about).
SMALL, LARGE = 64, 480


def matrix(text: str) -> list[list[bool]]:
    """The dark (True) and light modules of ``text``'s QR code, quiet zone included."""
    import segno  # only once a server is shared: not at start-up

    code = segno.make(text, error="m", micro=False)
    size = len(code.matrix) + 2 * QUIET
    rows = [[False] * size for _ in range(size)]
    for y, row in enumerate(code.matrix):
        for x, dark in enumerate(row):
            rows[y + QUIET][x + QUIET] = bool(dark)
    return rows


def image(text: str, pixels: int) -> QImage:
    """``text``'s QR code, black on white, as close to ``pixels`` square as whole
    pixels per module allow (never less than one)."""
    modules = matrix(text)
    per = max(1, pixels // len(modules))
    small = QImage(len(modules), len(modules), QImage.Format.Format_RGB32)
    small.fill(QColor("white"))
    black = QColor("black").rgb()
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                small.setPixel(x, y, black)
    side = len(modules) * per
    return small.scaled(side, side, Qt.AspectRatioMode.IgnoreAspectRatio,
                        Qt.TransformationMode.FastTransformation)


class QrButton(QToolButton):
    """A small QR code of ``text``; a click shows it large (for a room of phones)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.address = text
        self.pixmap = QPixmap.fromImage(image(text, SMALL))
        self.setIcon(QIcon(self.pixmap))
        self.setIconSize(QSize(self.pixmap.width(), self.pixmap.height()))
        self.setAutoRaise(True)
        self.setToolTip(f"QR code of {text}: point a phone's camera at it; "
                        "click to show it larger")
        self.clicked.connect(self.show_large)
        self.dialog: QDialog | None = None

    def show_large(self) -> QDialog:
        """A window with the code large and the address under it."""
        dialog = QDialog(self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle(self.address)
        column = QVBoxLayout(dialog)
        picture = QLabel(dialog)
        picture.setPixmap(QPixmap.fromImage(image(self.address, LARGE)))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # a white margin so the quiet zone is not lost against a dark look
        picture.setStyleSheet("background: white; padding: 8px;")
        column.addWidget(picture)
        caption = QLabel(self.address, dialog)
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = caption.font()
        font.setPointSizeF(font.pointSizeF() * 2)
        caption.setFont(font)
        column.addWidget(caption)
        dialog.show()
        self.dialog = dialog
        return dialog
