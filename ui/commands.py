"""The one typed proxy through which the Qt thread commands the engine.

Each method awaits the Engine's command of the same name on the engine's loop
(``EngineThread.call``) and hands back its answer on the Qt thread's loop. Panels,
the main window and the lesson controls use it; none runs code of its own on the
engine's loop. What comes back to the UI otherwise comes as events, through the
bridge (ui/bridge.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lab.model import ClientState, NodeInfo, Outcome

if TYPE_CHECKING:
    from ui.engine_thread import EngineThread


class Commands:
    """The engine's commands, awaitable from the Qt thread."""

    def __init__(self, lab: EngineThread) -> None:
        self._lab = lab

    # ---- servers -------------------------------------------------------------------

    async def add_server(self, kind: str, *, port: int | None = None,
                         start: bool = True) -> NodeInfo:
        return await self._lab.call(self._lab.engine.add_server, kind, port=port, start=start)

    async def start_server(self, node_id: str, *, port: int | None = None) -> NodeInfo:
        return await self._lab.call(self._lab.engine.start_server, node_id, port=port)

    async def stop_server(self, node_id: str) -> NodeInfo:
        return await self._lab.call(self._lab.engine.stop_server, node_id)

    async def remove_server(self, node_id: str) -> None:
        await self._lab.call(self._lab.engine.remove_server, node_id)

    async def set_server_options(self, node_id: str, **options: str) -> NodeInfo:
        return await self._lab.call(self._lab.engine.set_server_options, node_id, **options)

    # ---- clients -------------------------------------------------------------------

    async def add_client(self, kind: str, *,
                         settings: Mapping[str, object] | None = None) -> NodeInfo:
        return await self._lab.call(self._lab.engine.add_client, kind, settings=settings)

    async def client_act(self, node_id: str, verb: str, args: Sequence[str] = (), *,
                         settings: Mapping[str, object] | None = None) -> Outcome:
        return await self._lab.call(self._lab.engine.client_act, node_id, verb, tuple(args),
                                    settings=settings)

    async def configure_client(self, node_id: str, **settings: object) -> ClientState:
        return await self._lab.call(self._lab.engine.configure_client, node_id, **settings)

    async def client_close(self, node_id: str) -> NodeInfo:
        return await self._lab.call(self._lab.engine.client_close, node_id)

    async def remove_client(self, node_id: str) -> None:
        await self._lab.call(self._lab.engine.remove_client, node_id)
