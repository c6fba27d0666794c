"""The faults of one Wire as a form: spin boxes and checkboxes that report each change."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from lab.wire.faults import Faults


def _spin(parent: QWidget, top: int, suffix: str, tip: str, special: str = "") -> QSpinBox:
    box = QSpinBox(parent)
    box.setRange(0, top)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)  # apply on Enter, arrows or leaving the field
    if special:
        box.setSpecialValueText(special)
    _narrow(box)
    return box


def _narrow(box: QAbstractSpinBox) -> None:
    """No wider than need be: the form sits in a narrow dock beside the diagram (a
    long range's digits would otherwise set the dock's width)."""
    box.setMinimumWidth(box.fontMetrics().averageCharWidth() * 12)


class FaultForm(QWidget):
    """The faults of one Wire; ``changed(name, value)`` fires on each edit."""

    def __init__(self, changed: Callable[[str, object], object],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._changed = changed
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.latency = _spin(self, 60_000, " ms", "Added to each round trip: half on the "
                             "way to the server, half on the way back", "none")
        self.jitter = _spin(self, 10_000, " ms", "A random part of the latency, up to this "
                            "much more or less (bytes stay in order)", "none")
        self.bandwidth = _spin(self, 1_000_000_000, " B/s", "At most this many bytes per "
                               "second in each direction", "no limit")
        self.loss = QDoubleSpinBox(self)
        self.loss.setRange(0, 100)
        self.loss.setSuffix(" %")
        self.loss.setKeyboardTracking(False)
        self.loss.setToolTip("The chance that the Wire drops a UDP datagram (DNS, UDP echo)")
        _narrow(self.loss)
        self.seed = _spin(self, 2_000_000_000, "", "Seed for jitter and loss: the same seed "
                          "and traffic give the same delays and drops", "random")
        self.stall = QCheckBox("Stall (TCP)", self)
        self.stall.setToolTip("Forward nothing until unticked: the connection hangs")
        self.reset = QCheckBox("Reset after", self)
        self.reset.setToolTip("Reset each TCP connection once this many bytes crossed it")
        self.reset_bytes = _spin(self, 1_000_000_000, " bytes", self.reset.toolTip())
        self.reset_bytes.setValue(1000)
        self.reset_message = _spin(
            self, 1_000_000, "", "Reset each TCP connection when its message N (both "
            "directions counted from 1, as its dissector splits them) arrives, instead of "
            "forwarding it; what came before is delivered. A message longer than one read "
            "may have had its start forwarded already", "off")
        self.reset_message.setPrefix("message ")
        self.refuse = QCheckBox("Refuse new connections (TCP)", self)
        self.refuse.setToolTip("Reset each new connection at once, before the server sees it")
        form.addRow("Latency", self.latency)
        form.addRow("Jitter", self.jitter)
        form.addRow("Bandwidth", self.bandwidth)
        form.addRow("Loss", self.loss)
        form.addRow("Seed", self.seed)
        reset_row = QHBoxLayout()
        reset_row.addWidget(self.reset)
        reset_row.addWidget(self.reset_bytes, 1)
        form.addRow(self.stall)
        form.addRow(reset_row)
        form.addRow("Reset at", self.reset_message)
        form.addRow(self.refuse)
        self.latency.valueChanged.connect(lambda v: changed("latency", float(v)))
        self.jitter.valueChanged.connect(lambda v: changed("jitter", float(v)))
        self.bandwidth.valueChanged.connect(lambda v: changed("bandwidth", int(v)))
        self.loss.valueChanged.connect(lambda v: changed("loss", float(v) / 100))
        self.seed.valueChanged.connect(lambda v: changed("seed", int(v) or None))
        self.stall.toggled.connect(lambda on: changed("stall", bool(on)))
        self.refuse.toggled.connect(lambda on: changed("refuse", bool(on)))
        self.reset_message.valueChanged.connect(
            lambda v: changed("reset_at_message", int(v)))
        self.reset.toggled.connect(self._reset_changed)
        self.reset_bytes.valueChanged.connect(self._reset_changed)

    def _reset_changed(self, *_: object) -> None:
        self._changed("reset_after", self.reset_bytes.value() if self.reset.isChecked()
                      else None)

    def show_faults(self, faults: Faults) -> None:
        """Show ``faults`` without sending them back."""
        widgets = (self.latency, self.jitter, self.bandwidth, self.loss, self.seed,
                   self.stall, self.reset, self.reset_bytes, self.reset_message,
                   self.refuse)
        for widget in widgets:
            widget.blockSignals(True)
        self.latency.setValue(int(faults.latency))
        self.jitter.setValue(int(faults.jitter))
        self.bandwidth.setValue(faults.bandwidth)
        self.loss.setValue(faults.loss * 100)
        self.seed.setValue(faults.seed or 0)
        self.stall.setChecked(faults.stall)
        self.reset.setChecked(faults.reset_after is not None)
        if faults.reset_after is not None:
            self.reset_bytes.setValue(faults.reset_after)
        self.reset_message.setValue(faults.reset_at_message)
        self.refuse.setChecked(faults.refuse)
        for widget in widgets:
            widget.blockSignals(False)
