"""The load panel: N clients against one lab server for a bounded time, with a live
plot of requests/s and p50/p99 latency, so a class sees a server saturate. It shows
only the client's state (lab/clients/load.py: the LoadView, about ten a second)."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from lab.clients.load import LoadView
from lab.load import MAX_CLIENTS, LoadSummary
from lab.model import ClientState, NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext

#: Server kinds a load run can drive, and how.
LOAD_KINDS = {"http": "http", "tcp-echo": "tcp"}


class LoadPanel(NodePanel):
    """Choose a server, how many clients and for how long; Start; watch the plot."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        self._plotted: tuple[object, ...] | None = None  # the samples plotted
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Remove this load test")
        self.server_combo = QComboBox(self)
        self.server_combo.setEditable(True)
        self.server_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.server_combo.setMinimumContentsLength(8)
        self.server_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.server_combo.setToolTip("A running lab HTTP or TCP echo server")
        self.path_edit = QLineEdit("/", self)
        self.path_edit.setToolTip("The path every HTTP client asks for, again and again")
        self.clients_spin = QSpinBox(self)
        self.clients_spin.setRange(1, MAX_CLIENTS)
        self.clients_spin.setValue(10)
        self.clients_spin.setSuffix(" clients")
        self.clients_spin.setToolTip("How many clients at once, each on its own "
                                     "keep-alive connection")
        self.seconds_spin = QSpinBox(self)
        self.seconds_spin.setRange(1, 60)
        self.seconds_spin.setValue(10)
        self.seconds_spin.setSuffix(" s")
        self.seconds_spin.setToolTip("How long the run lasts; it stops by itself")
        self.start_button = QPushButton("Start", self)
        self.start_button.clicked.connect(self._start_clicked)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(lambda: spawn(self.stop()))
        grid = QGridLayout()
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.server_combo, 0, 0, 1, 2)
        grid.addWidget(self.path_edit, 0, 2)
        grid.addWidget(self.clients_spin, 1, 0)
        grid.addWidget(self.seconds_spin, 1, 1)
        buttons = QGridLayout()
        buttons.addWidget(self.start_button, 0, 0)
        buttons.addWidget(self.stop_button, 0, 1)
        grid.addLayout(buttons, 1, 2)
        grid.setColumnStretch(0, 1)
        self.body.addLayout(grid)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground(None)
        self.plot.setMinimumHeight(140)
        self.plot.setLabel("bottom", "second")
        self.plot.setLabel("left", "requests/s")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(5, 5))
        self.rate_curve = self.plot.plot([], [], name="requests/s",
                                         pen=pg.mkPen(theme.colour("good"), width=2))
        self.latency_plot = pg.PlotWidget(self)
        self.latency_plot.setBackground(None)
        self.latency_plot.setMinimumHeight(110)
        self.latency_plot.setLabel("left", "latency ms")
        self.latency_plot.showGrid(x=True, y=True, alpha=0.2)
        self.latency_plot.addLegend(offset=(5, 5))
        self.latency_plot.setXLink(self.plot)
        self.p50_curve = self.latency_plot.plot([], [], name="p50",
                                                pen=pg.mkPen(theme.colour("info"), width=2))
        self.p99_curve = self.latency_plot.plot([], [], name="p99",
                                                pen=pg.mkPen(theme.colour("warn"), width=2))
        self.summary_label = QLabel("Not run yet: choose a server and press Start.", self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.set_tone(self.summary_label, "faint")
        self.body.addWidget(self.plot)
        self.body.addWidget(self.latency_plot)
        self.body.addWidget(self.summary_label)
        context.bridge.node_changed.connect(self.refresh_servers)
        context.bridge.node_removed.connect(self.refresh_servers)
        self.refresh_servers()
        self.finish_layout()

    @property
    def run(self) -> LoadView | None:
        """The run under way or the last one (None before the first)."""
        view = getattr(self.state, "view", None)
        return view if isinstance(view, LoadView) else None

    @property
    def summary(self) -> LoadSummary | None:
        run = self.run
        return None if run is None else run.summary

    @property
    def running(self) -> bool:
        run = self.run
        return run is not None and run.running

    def describe(self, info: NodeInfo) -> str:
        if self.running:
            return "running"
        return "ready: choose a server and press Start"

    def refresh_servers(self, *_: object) -> None:
        """List the running HTTP and TCP echo servers; what was typed stays."""
        found = [(s.address, s.name, LOAD_KINDS[s.kind])
                 for s in self.context.bridge.running_servers()
                 if s.kind in LOAD_KINDS and s.address]
        typed = self.server_combo.currentText()
        self.server_combo.blockSignals(True)
        self.server_combo.clear()
        for address, name, kind in found:
            self.server_combo.addItem(f"{address}", kind)
            self.server_combo.setItemData(self.server_combo.count() - 1, name,
                                          Qt.ItemDataRole.ToolTipRole)
        self.server_combo.setEditText(typed or (found[0][0] if found else ""))
        self.server_combo.blockSignals(False)

    def target(self) -> tuple[str, str]:
        """(host:port, "http" | "tcp") of the chosen server."""
        address = self.server_combo.currentText().strip()
        index = self.server_combo.findText(address)
        data: Any = self.server_combo.itemData(index) if index >= 0 else None
        return address, str(data) if data else "http"

    def show_state(self, state: ClientState) -> None:
        self._show_settings(state)
        running, busy = self.running, bool(state.busy)
        self.start_button.setEnabled(not running and not busy)
        self.stop_button.setEnabled(running)
        run = self.run
        if run is not None:
            self._plot(run)
        self.show_node(self.info)


    def _show_settings(self, state: ClientState) -> None:
        server = self.setting_changed(state, "server")
        edit = self.server_combo.lineEdit()
        if server and not (edit is not None and edit.hasFocus()):
            self.server_combo.setEditText(server)
        path = self.setting_changed(state, "path")
        if path and not (self.path_edit.hasFocus() and self.path_edit.isModified()):
            self.path_edit.setText(path)
        for name, spin in (("clients", self.clients_spin), ("seconds", self.seconds_spin)):
            value = self.setting_changed(state, name)
            if value and not spin.hasFocus():
                try:
                    spin.setValue(round(float(value)))
                except ValueError:
                    pass  # not a number: the field keeps its own

    def settings(self) -> dict[str, str]:
        """What the fields say, sent with Start."""
        address, kind = self.target()
        return {"server": address, "kind": kind, "path": self.path_edit.text() or "/",
                "clients": str(self.clients_spin.value()),
                "seconds": str(self.seconds_spin.value())}

    def _start_clicked(self) -> None:
        if not self.running:
            spawn(self.start())

    async def start(self) -> None:
        """Start a run with what the form says; it shows as the state goes on."""
        await self.act("start", **self.settings())

    async def stop(self) -> None:
        await self.act("stop")

    def _plot(self, run: LoadView) -> None:
        """Plot the run's samples (if they changed) and say how it goes."""
        if run.samples != self._plotted:
            self._plotted = run.samples
            seconds = [s.second for s in run.samples]
            self.rate_curve.setData(seconds, [s.rate for s in run.samples])
            self.p50_curve.setData(seconds, [s.p50 for s in run.samples])
            self.p99_curve.setData(seconds, [s.p99 for s in run.samples])
        summary, last = run.summary, run.samples[-1] if run.samples else None
        if summary is not None:
            text = (f"{summary.rate:.0f} requests/s on average: {summary.requests} requests "
                    f"in {summary.seconds:.1f} s by {run.clients} clients, "
                    f"{summary.errors} errors")
        elif run.error:
            text = f"The run failed: {run.error}"
        elif last is not None:
            text = (f"second {last.second}: {last.rate:.0f} requests/s, p50 {last.p50:.1f} "
                    f"ms, p99 {last.p99:.1f} ms, {last.errors} errors")
        else:
            text = f"Running {run.clients} clients for {run.seconds:g} s…"
        self.summary_label.setText(text)

    def points(self) -> int:
        """How many points the requests/s curve has (tests read it)."""
        x, _ = self.rate_curve.getData()
        return 0 if x is None else len(x)
