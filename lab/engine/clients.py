"""The clients' lifecycle: add, configure, act, close, remove.

The engine owns each client's settings and state (lab/clients/handle.py); a
client is made with its engine's ``Routes`` (routing and patience, so step mode in
this engine, and only in this one, stretches its timeouts). Actions run through
``act``: one at a time per client, ``close`` and ``cancel`` excepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import traceback
from collections.abc import Mapping, Sequence

from lab.capture import Capture
from lab.clients import ClientObject, Routes, client_kinds
from lab.clients.handle import ClientHandle
from lab.engine.nodes import ClientNode, NodeRegistry
from lab.errors import EngineError
from lab.model import ClientState, EndpointNamed, NodeInfo, NodeState, Outcome


class ClientControl:
    """The engine's client commands (see the Engine's methods of the same names)."""

    def __init__(self, registry: NodeRegistry, capture: Capture, routes: Routes) -> None:
        self._registry = registry
        self._capture = capture
        self._routes = routes

    async def add(self, kind: str, *, name: str | None = None,
                  settings: Mapping[str, object] | None = None) -> NodeInfo:
        kinds = client_kinds()
        if kind not in kinds:
            raise EngineError(f"unknown client kind {kind!r}; known: {', '.join(sorted(kinds))}")
        spec = kinds[kind]
        info = NodeInfo(id=self._registry.new_id("k"), kind=kind, role="client",
                        name=name or self._registry.name(spec.title), state=NodeState.STOPPED)
        seen = functools.partial(self.name_endpoint, info.id)
        handle = ClientHandle(info.id, kind, spec.make(self._routes, seen),
                              self._capture.publish, {**spec.defaults, **(settings or {})})
        handle.memory["name"] = info.name  # for an action that uses it (a default nick)
        self._registry.add_client(ClientNode(info, handle))
        handle.show()
        return info

    def name_endpoint(self, node_id: str, address: str) -> None:
        """Tell the UI that ``address`` is one end of lab client ``node_id``."""
        self._capture.publish(EndpointNamed(address, node_id))

    def state(self, node_id: str) -> ClientState:
        return self._registry.client(node_id).handle.state

    def configure(self, node_id: str, settings: Mapping[str, object]) -> ClientState:
        return self._registry.client(node_id).handle.configure(settings)

    def obj(self, node_id: str) -> ClientObject:
        return self._registry.client(node_id).obj

    async def act(self, node_id: str, verb: str, args: Sequence[str] = (), *,
                  settings: Mapping[str, object] | None = None) -> Outcome:
        node = self._registry.client(node_id)
        if verb in ("close", "cancel"):
            # Closing does not queue behind an action (one held in step mode waits
            # long): it ends what is under way, which keeps its busy line.
            return await self._run(node, verb, args, settings, quick=True)
        async with node.lock:
            if node.gone:  # removed while this action waited for its turn
                return Outcome("the client was removed", {"ok": False, "text": ""})
            node.running = asyncio.current_task()
            try:
                return await self._run(node, verb, args, settings)
            finally:
                node.running = None

    async def _run(self, node: ClientNode, verb: str, args: Sequence[str],
                   settings: Mapping[str, object] | None, *, quick: bool = False) -> Outcome:
        """Run the kind's action, showing it (unless ``quick``) and its outcome."""
        handle = node.handle
        if settings:
            handle.configure(settings)
        if not quick:
            handle.show(busy=" ".join((verb, *args)), error="")
        try:
            outcome = await client_kinds()[node.info.kind].act(handle, verb, args)
        except asyncio.CancelledError:
            handle.show(busy="", error=f"{verb}: cancelled")
            raise
        except Exception as exc:  # a kind's bug: say so, keep the lab running
            traceback.print_exc(file=sys.stderr)
            outcome = Outcome(f"{verb} failed: {exc!r}", {"ok": False, "text": ""})
        if quick:
            if not outcome.ok:
                handle.show(error=outcome.shown)
        else:
            handle.show(busy="", status=outcome.shown if outcome.ok else handle.state.status,
                        error="" if outcome.ok else outcome.shown)
        return outcome

    async def close(self, node_id: str) -> NodeInfo:
        node = self._registry.client(node_id)
        await self.act(node_id, "close")
        return self._registry.set(node, state=NodeState.STOPPED, detail="")

    async def remove(self, node_id: str) -> None:
        """Close the client, end the action under way and those queued, then forget it."""
        node = self._registry.client(node_id)
        node.gone = True
        await self.close(node_id)
        running = node.running
        if running is not None and running is not asyncio.current_task():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        async with node.lock:  # queued actions see ``gone`` and return
            node.handle.forget_folder()
        self._registry.remove(node_id)
        self._capture.forget_endpoints(node_id)

    async def close_all(self) -> None:
        for node_id in list(self._registry.clients):
            await self.close(node_id)
