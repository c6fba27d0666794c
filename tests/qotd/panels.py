"""The qotd kind's panels (Qt): the server's shows its state, the client's its quote."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QWidget

from lab.model import ClientState, NodeInfo
from ui.panels import NodePanel, PanelContext


class QotdServerPanel(NodePanel):
    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.finish_layout()

    async def added(self) -> None:
        self.update_node(await self.context.commands.start_server(self.node_id))


class QotdClientPanel(NodePanel):
    def __init__(self, info: NodeInfo, context: PanelContext,
                 parent: QWidget | None = None) -> None:
        super().__init__(info, context, parent)
        self.quote = QLabel(self)
        self.body.addWidget(self.quote)
        self.finish_layout()

    def show_state(self, state: Any) -> None:
        if isinstance(state, ClientState) and state.view is not None:
            self.quote.setText(f"{state.view.code} {state.view.quote}")
