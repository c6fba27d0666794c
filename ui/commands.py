"""The one typed proxy through which the Qt thread commands the engine.

Each method awaits the Engine's command of the same name on the engine's loop
(``EngineThread.call``) and hands back its answer on the Qt thread's loop. Panels,
the main window and the lesson controls use it; none runs code of its own on the
engine's loop. What comes back to the UI otherwise comes as events, through the
bridge (ui/bridge.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lab.commands import export_capture, run_sync, save_capture
from lab.model import ClientState, NodeInfo, Outcome

if TYPE_CHECKING:
    from lab.replay import ReplayResult
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

    async def share_server(self, node_id: str, host: str) -> NodeInfo:
        return await self._lab.call(self._lab.engine.share_server, node_id, host)

    async def server_do(self, node_id: str, verb: str, *args: str) -> Outcome:
        return await self._lab.call(self._lab.engine.server_do, node_id, verb, *args)

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

    # ---- the capture ---------------------------------------------------------------

    async def save_capture(self, endpoints: dict[str, str], path: str) -> int:
        """Save the capture as a .cslab file; how many messages (StoreError if not)."""
        return await self._lab.call(save_capture, self._lab.engine, endpoints, path)

    async def export_capture(self, fmt: str, path: str) -> int:
        """Export the capture as ``fmt``; how many records (ExportError if not)."""
        return await self._lab.call(export_capture, self._lab.engine.capture, fmt, path)

    async def replay(self, connection_id: str,
                     message_ids: Sequence[int] | None = None) -> ReplayResult:
        return await self._lab.call(self._lab.engine.replay, connection_id, message_ids)

    async def shutdown(self) -> None:
        """Stop every server and client (the window's Stop all)."""
        await self._lab.call(self._lab.engine.shutdown)

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call one of the engine's plain methods (``engine.wire_board.set_faults``…) on
        its loop."""
        return await self._lab.call(run_sync, fn, *args, **kwargs)

