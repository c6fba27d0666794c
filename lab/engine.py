"""The Engine: owns the lab's servers, clients, Wires and the Capture.

It is plain asyncio and runs on whatever loop awaits it: ``asyncio.run`` in the
headless CLI, the engine thread's loop in the GUI. Every method that touches
sockets is a coroutine to be awaited on that loop; state changes are published
on the capture's bus as NodeChanged / NodeRemoved events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from lab import dissect
from lab.capture import Capture
from lab.clients import ClientObject, Routes, client_kinds
from lab.clients.handle import ClientHandle
from lab.errors import EngineError as EngineError  # its home: lab/errors.py
from lab.lan import ALL_INTERFACES, Caps, is_shared, share_addresses
from lab.model import (
    ClientState,
    EndpointNamed,
    NodeChanged,
    NodeInfo,
    NodeRemoved,
    NodeState,
    Outcome,
    Transport,
    format_address,
)
from lab.servers import Backend, ServerKind, server_kinds, stop_backend
from lab.servers.live import LiveFeed, failed, server_do
from lab.wire import TcpWire, UdpWire
from lab.wire.board import WireBoard, WireCommands

if TYPE_CHECKING:
    from lab.replay import ReplayResult

LOOPBACK = "127.0.0.1"
#: Ports tried for a UDP kind's TCP side when the user let the system pick (port 0).
TCP_SIDE_TRIES = 20
LOCAL_NAMES = {"127.0.0.1", "localhost", "::1"}

Wire = TcpWire | UdpWire


@dataclass
class _Server:
    info: NodeInfo
    spec: ServerKind
    host: str
    port: int
    options: dict[str, str]
    backend: Backend | None = None
    wire: Wire | None = None
    #: The TCP side of a UDP kind that answers over TCP too (DNS), same port.
    tcp_wire: TcpWire | None = None
    counts: tuple[int, int] = (0, 0)
    #: The caps given when shared (None: the defaults for ``host``, see Caps.for_host).
    caps: Caps | None = None
    #: Publishes the running backend's live data as ServerState (lab/servers/live.py).
    live: LiveFeed | None = None


@dataclass
class _Client:
    info: NodeInfo
    handle: ClientHandle
    #: One action at a time per client: a lesson step and a click queue up.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def obj(self) -> ClientObject:
        return self.handle.obj  # type: ignore[no-any-return]


class Engine(WireCommands):
    """The lab's command surface. Await its coroutines on the engine's loop.
    Faults, step mode and held messages: its ``wire_board`` (lab/wire/board.py)."""

    def __init__(self, capture: Capture | None = None) -> None:
        self.capture = capture if capture is not None else Capture()
        self._servers: dict[str, _Server] = {}
        self._clients: dict[str, _Client] = {}
        self._relays: list[Wire] = []
        self._outbound: dict[tuple[Transport, str, int, str], Wire] = {}
        self._ids = itertools.count(1)
        self._numbers: dict[str, itertools.count[int]] = {}
        self.wire_board = WireBoard(self._wires_of, self._known_ids)
        self._relay_numbers = itertools.count(1)

    # ---- nodes as the UI sees them -------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        return [s.info for s in self._servers.values()] + [c.info for c in self._clients.values()]

    def running_servers(self) -> list[NodeInfo]:
        return [s.info for s in self._servers.values() if s.info.state is NodeState.RUNNING]

    def _name(self, title: str) -> str:
        counter = self._numbers.setdefault(title, itertools.count(1))
        return f"{title} #{next(counter)}"

    def _set(self, node: _Server | _Client, **changes: object) -> NodeInfo:
        node.info = replace(node.info, revision=node.info.revision + 1,
                            **changes)  # type: ignore[arg-type]
        self.capture.publish(NodeChanged(node.info))
        return node.info

    # ---- servers -------------------------------------------------------------------

    async def add_server(
        self,
        kind: str,
        *,
        port: int | None = None,
        host: str = LOOPBACK,
        name: str | None = None,
        options: dict[str, str] | None = None,
        start: bool = True,
    ) -> NodeInfo:
        """Create a server of ``kind`` (and start it unless ``start`` is False)."""
        kinds = server_kinds()
        if kind not in kinds:
            raise EngineError(f"unknown server kind {kind!r}; known: {', '.join(sorted(kinds))}")
        spec = kinds[kind]
        info = NodeInfo(
            id=f"s{next(self._ids)}",
            kind=kind,
            role="server",
            name=name or self._name(spec.title),
            state=NodeState.STOPPED,
            address=format_address(host, spec.default_port if port is None else port),
        )
        node = _Server(info, spec, host, spec.default_port if port is None else port,
                       dict(options or {}))
        node.live = LiveFeed(info.id, kind, spec.module, self.capture.publish)
        self._servers[info.id] = node
        self.capture.publish(NodeChanged(info))
        if start:
            await self.start_server(info.id)
        return node.info

    async def start_server(self, node_id: str, *, port: int | None = None) -> NodeInfo:
        """Start the backend and its Wire; EngineError (naming the port) if that fails."""
        node = self._server(node_id)
        if node.info.state is NodeState.RUNNING:
            return node.info
        if port is not None:
            node.port = port
        self._set(node, state=NodeState.STARTING, detail="",
                  address=format_address(node.host, node.port))
        try:
            node.backend = await node.spec.start(node.options)
            wire_type = TcpWire if node.spec.transport is Transport.TCP else UdpWire
            node.wire = wire_type(
                self.capture,
                listen=(node.host, node.port),
                target=node.backend.address,
                protocol=node.spec.dissector,
                node=node_id,
                on_count=functools.partial(self._count, node, 0),
            )
            self.apply_saved(node_id, node.wire)
            node.wire.caps = node.caps or Caps.for_host(node.host)
            await node.wire.start()
            if node.spec.tcp_dissector:
                await self._start_tcp_side(node, node_id)
        except OSError as exc:
            await self._stop_parts(node)
            self._set(node, state=NodeState.FAILED, detail=str(exc.strerror or exc))
            raise EngineError(str(exc.strerror or exc)) from None
        info = self._set(node, state=NodeState.RUNNING, connections=0,
                         address=node.wire.public_address, detail="")
        if node.live is not None:
            node.live.start(node.backend)
        return info

    async def _start_tcp_side(self, node: _Server, node_id: str) -> None:
        """The TCP Wire of a UDP kind that answers over TCP too, on the UDP Wire's port."""
        assert node.wire is not None and node.backend is not None
        tcp_target = getattr(node.backend, "tcp_address", None)
        if tcp_target is None:
            return
        name = node.spec.tcp_dissector
        for attempt in range(TCP_SIDE_TRIES):
            node.tcp_wire = TcpWire(
                self.capture,
                listen=(node.host, node.wire.address[1]),
                target=tcp_target,
                protocol=node.spec.dissector,
                dissector=lambda: dissect.make(name),
                node=node_id,
                on_count=functools.partial(self._count, node, 1),
            )
            self.apply_saved(node_id, node.tcp_wire)
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

    def _count(self, node: _Server, side: int, count: int) -> None:
        counts = list(node.counts)
        counts[side] = count
        node.counts = (counts[0], counts[1])
        self._set(node, connections=sum(node.counts))

    async def stop_server(self, node_id: str) -> NodeInfo:
        node = self._server(node_id)
        await self._stop_parts(node)
        return self._set(node, state=NodeState.STOPPED, connections=0)

    async def remove_server(self, node_id: str) -> None:
        node = self._server(node_id)
        await self._stop_parts(node)
        del self._servers[node_id]
        self.capture.publish(NodeRemoved(node_id))

    async def _stop_parts(self, node: _Server) -> None:
        if node.live is not None:
            node.live.stop()
        wires = [wire for wire in (node.tcp_wire, node.wire) if wire is not None]
        backend, node.backend, node.wire, node.tcp_wire = node.backend, None, None, None
        node.counts = (0, 0)
        await stop_backend(backend, wires)

    async def set_server_options(self, node_id: str, **options: str) -> NodeInfo:
        """Change a server's options (such as ``root``); a running server restarts
        on the same port to take them, a stopped one takes them at its next start."""
        node = self._server(node_id)
        node.options.update(options)
        if node.info.state is not NodeState.RUNNING or node.wire is None:
            return node.info
        port = node.wire.address[1]
        await self.stop_server(node_id)
        return await self.start_server(node_id, port=port)

    async def share_server(self, node_id: str, host: str, *, max_per_client: int | None = None,
                           max_total: int | None = None) -> NodeInfo:
        """Let a server's Wire listen on ``host``: an interface address (lab.lan.interfaces),
        ``0.0.0.0`` for all, or 127.0.0.1 to stop sharing; a running server restarts
        on the same port. Caps default to lab.lan's shared ones off loopback."""
        node = self._server(node_id)
        node.host = host
        node.caps = Caps.for_host(host, max_per_client, max_total)
        if node.info.state is not NodeState.RUNNING or node.wire is None:
            return self._set(node, address=format_address(host, node.port))
        port = node.wire.address[1]
        await self.stop_server(node_id)
        return await self.start_server(node_id, port=port)

    def share_addresses(self, node_id: str) -> list[str]:
        """The addresses to give students for a shared server ([] when not shared)."""
        node = self._server(node_id)
        if node.wire is None or not is_shared(node.host):
            return []
        return share_addresses(node.spec.dissector, node.host, node.wire.address[1])

    def server_backend(self, node_id: str) -> Backend | None:
        """The running server behind a node's Wire (None while stopped), for tests and
        benchmarks; panels show its ServerState and change it with ``server_do``."""
        return self._server(node_id).backend

    async def server_do(self, node_id: str, verb: str, *args: str) -> Outcome:
        """Run a server kind's command on its running backend (``add shop A 127.0.0.9``
        on a DNS server, ``read ann KEY`` on a mail server: see lab/servers/*_live.py).
        What it changes shows in the server's next ServerState; the Outcome says what
        it did, or why not (a stopped server, a bad record) without raising."""
        node = self._server(node_id)
        if node.backend is None:
            return failed(f"{node.info.name} is stopped: start it first")
        return await server_do(node.spec.module, node.backend, verb, args)

    def server_setup(self, node_id: str) -> tuple[int, dict[str, str]]:
        """A server's port as asked for (0: the system picked one) and a copy of its
        options, for saving the setup as a scenario (lab/scenario_save.py)."""
        node = self._server(node_id)
        return node.port, dict(node.options)

    def _server(self, node_id: str) -> _Server:
        try:
            return self._servers[node_id]
        except KeyError:
            raise EngineError(f"no server {node_id!r}") from None

    # ---- a bare relay --------------------------------------------------------------

    async def relay(
        self,
        listen: tuple[str, int],
        target: tuple[str, int],
        *,
        protocol: str = "raw",
        transport: Transport = Transport.TCP,
    ) -> Wire:
        """A Wire between two outside programs (``cslab relay``). Over TCP, a protocol
        whose server kind also answers over TCP (DNS) is dissected in its TCP form."""
        wire_type = TcpWire if transport is Transport.TCP else UdpWire
        tcp_form = next((spec.tcp_dissector for spec in server_kinds().values()
                         if spec.dissector == protocol and spec.tcp_dissector), "")
        wire = wire_type(self.capture, listen=listen, target=target, protocol=protocol,
                         dissector=(lambda: dissect.make(tcp_form))
                         if tcp_form and transport is Transport.TCP else None)
        wire.wire_id = f"r{next(self._relay_numbers)}"
        self.apply_saved(wire.wire_id, wire)
        await wire.start()
        self._relays.append(wire)
        return wire

    def _wires_of(self, node_id: str | None) -> list[Wire]:
        """The Wires of a server (its TCP side too) or relay; None: every Wire."""
        servers = [s for s in self._servers.values()
                   if node_id is None or s.info.id == node_id]
        wires = [w for s in servers for w in (s.wire, s.tcp_wire) if w is not None]
        return wires + [w for w in (*self._relays, *self._outbound.values())
                        if node_id is None or w.wire_id == node_id]

    def _known_ids(self) -> set[str]:
        return set(self._servers) | {w.wire_id for w in (*self._relays,
                                                          *self._outbound.values())}

    # ---- clients -------------------------------------------------------------------

    async def add_client(self, kind: str = "echo", *, name: str | None = None,
                         settings: Mapping[str, object] | None = None) -> NodeInfo:
        """Make a client of ``kind`` with the kind's default settings, updated by
        ``settings`` (a lesson's options, a saved setup); its state is published."""
        kinds = client_kinds()
        if kind not in kinds:
            raise EngineError(f"unknown client kind {kind!r}; known: {', '.join(sorted(kinds))}")
        spec = kinds[kind]
        info = NodeInfo(
            id=f"k{next(self._ids)}",
            kind=kind,
            role="client",
            name=name or self._name(spec.title),
            state=NodeState.STOPPED,
        )
        seen = functools.partial(self.name_endpoint, info.id)
        routes = Routes(self.route, self.upstream_error, self.upstream_result)
        handle = ClientHandle(info.id, kind, spec.make(routes, seen), self.capture.publish,
                              {**spec.defaults, **(settings or {})})
        handle.memory["name"] = info.name  # for an action that uses it (a default nick)
        self._clients[info.id] = _Client(info, handle)
        self.capture.publish(NodeChanged(info))
        handle.show()
        return info

    def client_state(self, node_id: str) -> ClientState:
        """A client's state as its panel shows it (the latest one published)."""
        return self._client(node_id).handle.state

    async def configure_client(self, node_id: str, **settings: object) -> ClientState:
        """Change a client's settings (the others stay); the new state is published."""
        return self._client(node_id).handle.configure(settings)

    async def client_act(self, node_id: str, verb: str, args: Sequence[str] = (), *,
                         settings: Mapping[str, object] | None = None) -> Outcome:
        """Run one action of a client (what its panel's buttons and a lesson's steps
        do: ``open /index.html``, ``retr 1``…), with ``settings`` taken first.

        Actions of one client run one at a time. The state shows the action while it
        runs and its outcome after; an action that fails says why in ``Outcome`` and
        in the state's ``error``, never by raising (a bug in a kind is printed on
        stderr and shown as an error too)."""
        node = self._client(node_id)
        # Closing does not queue behind an action (one held in step mode waits long):
        # it ends what is under way.
        async with contextlib.nullcontext() if verb in ("close", "cancel") else node.lock:
            handle = node.handle
            if settings:
                handle.configure(settings)
            handle.show(busy=" ".join((verb, *args)), error="")
            try:
                outcome = await client_kinds()[node.info.kind].act(handle, verb, args)
            except asyncio.CancelledError:
                handle.show(busy="", error=f"{verb}: cancelled")
                raise
            except Exception as exc:  # a kind's bug: say so, keep the lab running
                traceback.print_exc(file=sys.stderr)
                outcome = Outcome(f"{verb} failed: {exc!r}", {"ok": False, "text": ""})
            handle.show(busy="", status=outcome.shown if outcome.ok else handle.state.status,
                        error="" if outcome.ok else outcome.shown)
            return outcome

    async def client_close(self, node_id: str) -> NodeInfo:
        """Close a client's connections (its ``close`` action)."""
        node = self._client(node_id)
        await self.client_act(node_id, "close")
        return self._set(node, state=NodeState.STOPPED, detail="")

    def name_endpoint(self, node_id: str, address: str) -> None:
        """Tell the UI that ``address`` is one end of lab client ``node_id``."""
        self.capture.publish(EndpointNamed(address, node_id))

    def client_object(self, node_id: str) -> ClientObject:
        """The client object itself (call its coroutines on the engine's loop): for
        tests and the engine's own commands; panels and lessons use ``client_act``."""
        return self._client(node_id).obj

    async def route(self, transport: Transport, host: str, port: int,
                    protocol: str = "raw") -> tuple[str, int]:
        """Where a lab client should connect to reach ``host:port``: a lab server's
        Wire directly, anything else through an outbound Wire, so it is captured."""
        if self._lab_server_at(host, port) is not None:
            return host, port
        return (await self._outbound_wire(transport, host, port, protocol)).address

    async def upstream_error(self, routed: tuple[str, int], local: str) -> Exception | None:
        """Wait until the outbound UDP Wire at ``routed`` finds ``local``'s datagrams
        refused beyond it (see ``UdpWire.upstream_error``); None at once if none is there."""
        wire = next((w for w in self._outbound.values()
                     if isinstance(w, UdpWire) and w.address == routed), None)
        return None if wire is None else await wire.upstream_error(local)

    async def upstream_result(self, routed: tuple[str, int], local: str) -> str:
        """Whether the outbound TCP Wire at ``routed`` reached the real server for the
        client at ``local``: "" if it did (or ``routed`` is no outbound Wire), else why not."""
        wire = next((w for w in self._outbound.values()
                     if isinstance(w, TcpWire) and w.address == routed), None)
        return "" if wire is None else await wire.upstream_result(local)

    async def remove_client(self, node_id: str) -> None:
        await self.client_close(node_id)
        self._clients.pop(node_id).handle.forget_folder()
        self.capture.publish(NodeRemoved(node_id))

    def _client(self, node_id: str) -> _Client:
        try:
            return self._clients[node_id]
        except KeyError:
            raise EngineError(f"no client {node_id!r}") from None

    def _lab_server_at(self, host: str, port: int) -> _Server | None:
        for node in self._servers.values():
            if node.wire is None:
                continue
            wire_host, wire_port = node.wire.address
            if wire_port == port and (host == wire_host or wire_host == ALL_INTERFACES or
                                      (host in LOCAL_NAMES and wire_host in LOCAL_NAMES)):
                return node
        return None

    async def _outbound_wire(self, transport: Transport, host: str, port: int,
                             protocol: str = "raw") -> Wire:
        key = (transport, host, port, protocol)
        wire = self._outbound.get(key)
        if wire is None:
            wire = await self.relay((LOOPBACK, 0), (host, port), transport=transport,
                                    protocol=protocol)
            self._relays.remove(wire)
            self._outbound[key] = wire
        return wire

    async def clear_capture(self) -> None:
        """Empty the capture (a lesson starts clean); every reader hears CaptureCleared."""
        self.capture.clear()

    # ---- shutting down -------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop every client, server and Wire; no port stays bound afterwards."""
        for client_id in list(self._clients):
            await self.client_close(client_id)
        for server in list(self._servers.values()):
            if server.wire is not None or server.backend is not None:
                await self.stop_server(server.info.id)
        for wire in [*self._relays, *self._outbound.values()]:
            await wire.stop()
        self._relays.clear()
        self._outbound.clear()

    async def replay(self, connection_id: str,
                     message_ids: Sequence[int] | None = None) -> ReplayResult:
        """Re-send connection ``connection_id``'s client messages (or ``message_ids``) to
        its server as a new connection through its Wire, so it is captured: lab/replay.py."""
        from lab.replay import ReplayError, replay  # not needed at start-up

        try:
            return await replay(self.capture, connection_id, message_ids,
                                wires=self._wires_of(None))
        except ReplayError as exc:
            raise EngineError(str(exc)) from None
