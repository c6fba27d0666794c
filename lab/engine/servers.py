"""The servers' lifecycle: add, start (backend, then its Wire), stop, options, sharing.

A server node runs its backend (lab/servers/) behind a Wire the engine makes:
TCP or UDP as its kind says, and for a UDP kind that answers over TCP too (DNS)
a TCP Wire on the same port. Each Wire takes what the wire board saved for the
node (faults, step mode, the engine's patience) and counts its connections in
the engine's budget.
"""

from __future__ import annotations

import functools

from lab import dissect
from lab.capture import Capture
from lab.engine.nodes import NodeRegistry, ServerNode
from lab.engine.routing import LOOPBACK, Adopt
from lab.errors import EngineError
from lab.lan import Caps, is_shared, share_addresses
from lab.model import NodeInfo, NodeState, Outcome, Transport, format_address
from lab.servers import Backend, server_kinds, stop_backend
from lab.servers.live import LiveFeed, failed, server_do
from lab.wire import ConnectionBudget, TcpWire, UdpWire

#: Ports tried for a UDP kind's TCP side when the user let the system pick (port 0).
TCP_SIDE_TRIES = 20


class ServerControl:
    """The engine's server commands (see the Engine's methods of the same names)."""

    def __init__(self, registry: NodeRegistry, capture: Capture, budget: ConnectionBudget,
                 adopt: Adopt) -> None:
        self._registry = registry
        self._capture = capture
        self._budget = budget
        self._adopt = adopt

    async def add(self, kind: str, *, port: int | None, host: str = LOOPBACK,
                  name: str | None = None, options: dict[str, str] | None = None,
                  start: bool = True) -> NodeInfo:
        kinds = server_kinds()
        if kind not in kinds:
            raise EngineError(f"unknown server kind {kind!r}; known: {', '.join(sorted(kinds))}")
        spec = kinds[kind]
        port = spec.default_port if port is None else port
        info = NodeInfo(id=self._registry.new_id("s"), kind=kind, role="server",
                        name=name or self._registry.name(spec.title), state=NodeState.STOPPED,
                        address=format_address(host, port))
        node = ServerNode(info, spec, host, port, dict(options or {}))
        node.live = LiveFeed(info.id, kind, spec.module, self._capture.publish)
        self._registry.add_server(node)
        if start:
            await self.start(info.id)
        return node.info

    async def start(self, node_id: str, *, port: int | None = None) -> NodeInfo:
        node = self._registry.server(node_id)
        if node.info.state is NodeState.RUNNING:
            return node.info
        if port is not None:
            node.port = port
        self._registry.set(node, state=NodeState.STARTING, detail="",
                           address=format_address(node.host, node.port))
        try:
            node.backend = await node.spec.start(node.options)
            wire_type = TcpWire if node.spec.transport is Transport.TCP else UdpWire
            node.wire = wire_type(
                self._capture, listen=(node.host, node.port), target=node.backend.address,
                protocol=node.spec.dissector, node=node_id, budget=self._budget,
                on_count=functools.partial(self._count, node, 0))
            self._adopt(node_id, node.wire)
            node.wire.caps = node.caps or Caps.for_host(node.host)
            await node.wire.start()
            if node.spec.tcp_dissector:
                await self._start_tcp_side(node, node_id)
        except OSError as exc:
            await self._stop_parts(node)
            self._registry.set(node, state=NodeState.FAILED, detail=str(exc.strerror or exc))
            raise EngineError(str(exc.strerror or exc)) from None
        caps = node.wire.caps
        info = self._registry.set(node, state=NodeState.RUNNING, connections=0,
                                  address=node.wire.public_address, detail="",
                                  caps=(caps.per_client, caps.total))
        if node.live is not None:
            node.live.start(node.backend)
        return info

    async def _start_tcp_side(self, node: ServerNode, node_id: str) -> None:
        """The TCP Wire of a UDP kind that answers over TCP too, on the UDP Wire's port."""
        assert node.wire is not None and node.backend is not None
        tcp_target = getattr(node.backend, "tcp_address", None)
        if tcp_target is None:
            return
        name = node.spec.tcp_dissector
        for attempt in range(TCP_SIDE_TRIES):
            node.tcp_wire = TcpWire(
                self._capture, listen=(node.host, node.wire.address[1]), target=tcp_target,
                protocol=node.spec.dissector, dissector=lambda: dissect.make(name),
                node=node_id, budget=self._budget,
                on_count=functools.partial(self._count, node, 1))
            self._adopt(node_id, node.tcp_wire)
            node.tcp_wire.caps = node.wire.caps
            try:
                await node.tcp_wire.start()
                return
            except OSError:
                node.tcp_wire = None
                if node.port != 0 or attempt == TCP_SIDE_TRIES - 1:
                    raise
            # Port 0: the system's pick for UDP is taken for TCP (often by the
            # backend's own hidden TCP port): let it pick again.
            await node.wire.stop()
            await node.wire.start()

    def _count(self, node: ServerNode, side: int, count: int) -> None:
        counts = list(node.counts)
        counts[side] = count
        node.counts = (counts[0], counts[1])
        self._registry.set(node, connections=sum(node.counts))

    async def stop(self, node_id: str) -> NodeInfo:
        node = self._registry.server(node_id)
        await self._stop_parts(node)
        return self._registry.set(node, state=NodeState.STOPPED, connections=0)

    async def remove(self, node_id: str) -> None:
        await self._stop_parts(self._registry.server(node_id))
        self._registry.remove(node_id)

    async def _stop_parts(self, node: ServerNode) -> None:
        if node.live is not None:
            node.live.stop()
        wires = [wire for wire in (node.tcp_wire, node.wire) if wire is not None]
        backend, node.backend, node.wire, node.tcp_wire = node.backend, None, None, None
        node.counts = (0, 0)
        await stop_backend(backend, wires)

    async def restart(self, node: ServerNode) -> NodeInfo:
        """Restart a running server on the port it has (to take new options or host)."""
        assert node.wire is not None
        port = node.wire.address[1]
        await self.stop(node.info.id)
        return await self.start(node.info.id, port=port)

    async def set_options(self, node_id: str, **options: str) -> NodeInfo:
        node = self._registry.server(node_id)
        node.options.update(options)
        if node.info.state is not NodeState.RUNNING or node.wire is None:
            return node.info
        return await self.restart(node)

    async def share(self, node_id: str, host: str, *, max_per_client: int | None = None,
                    max_total: int | None = None) -> NodeInfo:
        node = self._registry.server(node_id)
        node.host = host
        node.caps = Caps.for_host(host, max_per_client, max_total)
        if node.info.state is not NodeState.RUNNING or node.wire is None:
            return self._registry.set(node, address=format_address(host, node.port))
        return await self.restart(node)

    def share_addresses(self, node_id: str) -> list[str]:
        node = self._registry.server(node_id)
        if node.wire is None or not is_shared(node.host):
            return []
        return share_addresses(node.spec.dissector, node.host, node.wire.address[1])

    def backend(self, node_id: str) -> Backend | None:
        return self._registry.server(node_id).backend

    async def do(self, node_id: str, verb: str, *args: str) -> Outcome:
        node = self._registry.server(node_id)
        if node.backend is None:
            return failed(f"{node.info.name} is stopped: start it first")
        return await server_do(node.spec.module, node.backend, verb, args)

    def setup(self, node_id: str) -> tuple[int, dict[str, str]]:
        node = self._registry.server(node_id)
        return node.port, dict(node.options)

    async def stop_all(self) -> None:
        """Stop every server that runs (or has parts left)."""
        for node in list(self._registry.servers.values()):
            if node.wire is not None or node.backend is not None:
                await self.stop(node.info.id)
