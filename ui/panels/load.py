"""The load panel: N clients against one lab server for a bounded time, with a live
plot of requests/s and p50/p99 latency, so a class sees a server saturate."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import Qt, QTimer
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

from lab.clients.load import LoadClient
from lab.engine import Engine, EngineError
from lab.load import MAX_CLIENTS, LoadRun, LoadSample, LoadSummary
from lab.model import NodeInfo
from ui import theme
from ui.engine_thread import spawn
from ui.panels.base import NodePanel, PanelContext

#: Server kinds a load run can drive, and how.
LOAD_KINDS = {"http": "http", "tcp-echo": "tcp"}
POLL_MS = 200


async def start_on_engine(engine: Engine, node_id: str, target: str, kind: str, path: str,
                          clients: int, seconds: float) -> LoadRun:
    """Start a run of the load client ``node_id``; it names its connections to the UI
    (``seen``), so that the bridge samples this run's traffic and nothing else."""
    client = engine.client_object(node_id)
    assert isinstance(client, LoadClient)
    return await client.start(target, kind=kind, path=path, clients=clients, seconds=seconds)


async def wait_on_engine(run: LoadRun) -> LoadSummary:
    return await run.wait()


async def stop_on_engine(engine: Engine, node_id: str) -> None:
    client = engine.client_object(node_id)
    assert isinstance(client, LoadClient)
    await client.stop()


class LoadPanel(NodePanel):
    """Choose a server, how many clients and for how long; Start; watch the plot."""

    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.remove_button.setToolTip("Remove this load test")
        self.run: LoadRun | None = None
        self.summary: LoadSummary | None = None
        self._shown = 0
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
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        context.bridge.node_changed.connect(self.refresh_servers)
        context.bridge.node_removed.connect(self.refresh_servers)
        self.refresh_servers()
        self.finish_layout()

    def describe(self, info: NodeInfo) -> str:
        if getattr(self, "run", None) is not None and self.timer.isActive():
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

    def _start_clicked(self) -> None:
        if not self.timer.isActive():
            spawn(self.start())

    async def start(self) -> LoadSummary | None:
        """Start a run with what the form says, follow it, and show the summary."""
        address, kind = self.target()
        if not address:
            self.show_error("Choose a running server first.")
            return None
        self.show_error("")
        lab = self.context.lab
        try:
            run = await lab.call(start_on_engine, lab.engine, self.node_id, address, kind,
                                 self.path_edit.text() or "/", self.clients_spin.value(),
                                 float(self.seconds_spin.value()))
        except (EngineError, ValueError, OSError) as exc:
            self.show_error(str(exc))
            return None
        self.run, self.summary, self._shown = run, None, 0
        self.rate_curve.setData([], [])
        self.p50_curve.setData([], [])
        self.p99_curve.setData([], [])
        self.summary_label.setText(f"Running {run.clients} clients for {run.seconds:g} s…")
        self._set_running(True)
        try:
            summary = await lab.call(wait_on_engine, run)
        except (OSError, EngineError) as exc:
            self.show_error(str(exc))
            return None
        finally:
            self._set_running(False)
        self.summary = summary
        self.poll()
        self.summary_label.setText(
            f"{summary.rate:.0f} requests/s on average: {summary.requests} requests in "
            f"{summary.seconds:.1f} s by {run.clients} clients, {summary.errors} errors")
        return summary

    async def stop(self) -> None:
        lab = self.context.lab
        try:
            await lab.call(stop_on_engine, lab.engine, self.node_id)
        except EngineError as exc:
            self.show_error(str(exc))

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if running:
            self.timer.start()
        else:
            self.timer.stop()
        self.show_node(self.info)

    def poll(self) -> None:
        """Plot the samples that arrived since the last look (the run appends them on
        the engine's thread; a list's length and items are safe to read here)."""
        run = self.run
        if run is None:
            return
        samples: list[LoadSample] = list(run.samples)
        if len(samples) == self._shown:
            return
        self._shown = len(samples)
        seconds = [s.second for s in samples]
        self.rate_curve.setData(seconds, [s.rate for s in samples])
        self.p50_curve.setData(seconds, [s.p50 for s in samples])
        self.p99_curve.setData(seconds, [s.p99 for s in samples])
        last = samples[-1]
        if self.summary is None:
            self.summary_label.setText(
                f"second {last.second}: {last.rate:.0f} requests/s, p50 {last.p50:.1f} ms, "
                f"p99 {last.p99:.1f} ms, {last.errors} errors")

    def points(self) -> int:
        """How many points the requests/s curve has (tests read it)."""
        x, _ = self.rate_curve.getData()
        return 0 if x is None else len(x)
