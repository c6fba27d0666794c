"""The Engine: the lab's command surface, composed of its parts.

    nodes.py     NodeRegistry: servers and clients, ids, names, NodeChanged
    servers.py   ServerControl: a server's backend and Wires, options, sharing
    clients.py   ClientControl: a client's settings, actions, closing
    routing.py   Routing: route, outbound Wires, relays, upstream errors, wires_of
    lab/wire/board.py  WireBoard (``engine.wire_board``): faults, step mode, held
                 messages, and the engine's patience while a Wire of it steps
    lab/replay.py      replay, through the engine's Wires

Nothing here is process-wide: each Engine has its own nodes, capture, wire board
(so step mode and faults in one never touch another) and ConnectionBudget (the
connections its Wires may hold open; give engines one budget to share the
process's open-file ceiling between them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lab.capture import Capture
from lab.clients import ClientObject
from lab.engine.clients import ClientControl
from lab.engine.nodes import NodeRegistry
from lab.engine.routing import LOOPBACK, Routing, Wire
from lab.engine.servers import ServerControl
from lab.errors import EngineError
from lab.model import ClientState, NodeInfo, Outcome, Transport
from lab.servers import Backend
from lab.wire import ConnectionBudget
from lab.wire.board import WireBoard

if TYPE_CHECKING:
    from lab.replay import ReplayResult


class Engine:
    """The lab's command surface. Await its coroutines on the engine's loop.
    Faults, step mode and held messages: its ``wire_board`` (lab/wire/board.py)."""

    def __init__(self, capture: Capture | None = None, *,
                 budget: ConnectionBudget | None = None) -> None:
        self.capture = capture if capture is not None else Capture()
        self.budget = budget if budget is not None else ConnectionBudget()
        self.registry = NodeRegistry(self.capture)
        self.wire_board = WireBoard(self._wires_of, self._known_ids)
        adopt = self.wire_board.apply_saved
        self.routing = Routing(self.registry, self.capture, self.budget, adopt)
        self._servers = ServerControl(self.registry, self.capture, self.budget, adopt)
        self._clients = ClientControl(self.registry, self.capture,
                                      self.routing.routes(self.wire_board.patient))

    # ---- nodes as the UI sees them -------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        return self.registry.nodes()

    def running_servers(self) -> list[NodeInfo]:
        return self.registry.running_servers()

    # ---- servers -------------------------------------------------------------------

    async def add_server(self, kind: str, *, port: int | None = None, host: str = LOOPBACK,
                         name: str | None = None, options: dict[str, str] | None = None,
                         start: bool = True) -> NodeInfo:
        """Create a server of ``kind`` (and start it unless ``start`` is False)."""
        return await self._servers.add(kind, port=port, host=host, name=name,
                                       options=options, start=start)

    async def start_server(self, node_id: str, *, port: int | None = None) -> NodeInfo:
        """Start the backend and its Wire; EngineError (naming the port) if that fails."""
        return await self._servers.start(node_id, port=port)

    async def stop_server(self, node_id: str) -> NodeInfo:
        return await self._servers.stop(node_id)

    async def remove_server(self, node_id: str) -> None:
        await self._servers.remove(node_id)

    async def set_server_options(self, node_id: str, **options: str) -> NodeInfo:
        """Change a server's options (such as ``root``); a running server restarts
        on the same port to take them, a stopped one takes them at its next start."""
        return await self._servers.set_options(node_id, **options)

    async def share_server(self, node_id: str, host: str, *, max_per_client: int | None = None,
                           max_total: int | None = None) -> NodeInfo:
        """Let a server's Wire listen on ``host``: an interface address (lab.lan.interfaces),
        ``0.0.0.0`` for all, or 127.0.0.1 to stop sharing; a running server restarts
        on the same port. Caps default to lab.lan's shared ones off loopback."""
        return await self._servers.share(node_id, host, max_per_client=max_per_client,
                                         max_total=max_total)

    def share_addresses(self, node_id: str) -> list[str]:
        """The addresses to give students for a shared server ([] when not shared)."""
        return self._servers.share_addresses(node_id)

    def server_backend(self, node_id: str) -> Backend | None:
        """The running server behind a node's Wire (None while stopped), for tests and
        benchmarks; panels show its ServerState and change it with ``server_do``."""
        return self._servers.backend(node_id)

    async def server_do(self, node_id: str, verb: str, *args: str) -> Outcome:
        """Run a server kind's command on its running backend (``add shop A 127.0.0.9``
        on a DNS server, ``read ann KEY`` on a mail server: see lab/servers/*_live.py).
        What it changes shows in the server's next ServerState; the Outcome says what
        it did, or why not (a stopped server, a bad record) without raising."""
        return await self._servers.do(node_id, verb, *args)

    def server_setup(self, node_id: str) -> tuple[int, dict[str, str]]:
        """A server's port as asked for (0: the system picked one) and a copy of its
        options, for saving the setup as a scenario (lab/scenario_save.py)."""
        return self._servers.setup(node_id)

    # ---- relays and routes ---------------------------------------------------------

    async def relay(self, listen: tuple[str, int], target: tuple[str, int], *,
                    protocol: str = "raw", transport: Transport = Transport.TCP) -> Wire:
        """A Wire between two outside programs (``cslab relay``)."""
        return await self.routing.relay(listen, target, protocol=protocol,
                                        transport=transport)

    async def route(self, transport: Transport, host: str, port: int,
                    protocol: str = "raw") -> tuple[str, int]:
        """Where a lab client should connect to reach ``host:port`` (see Routing.route)."""
        return await self.routing.route(transport, host, port, protocol)

    def _wires_of(self, node_id: str | None) -> list[Wire]:
        """The Wires of a server or relay; None: every Wire (the wire board's view)."""
        return self.routing.wires_of(node_id)

    def _known_ids(self) -> set[str]:
        return self.routing.known_ids()

    # ---- clients -------------------------------------------------------------------

    async def add_client(self, kind: str, *, name: str | None = None,
                         settings: Mapping[str, object] | None = None) -> NodeInfo:
        """Make a client of ``kind`` with the kind's default settings, updated by
        ``settings`` (a lesson's options, a saved setup); its state is published."""
        return await self._clients.add(kind, name=name, settings=settings)

    def client_state(self, node_id: str) -> ClientState:
        """A client's state as its panel shows it (the latest one published)."""
        return self._clients.state(node_id)

    async def configure_client(self, node_id: str, **settings: object) -> ClientState:
        """Change a client's settings (the others stay); the new state is published."""
        return self._clients.configure(node_id, settings)

    async def client_act(self, node_id: str, verb: str, args: Sequence[str] = (), *,
                         settings: Mapping[str, object] | None = None) -> Outcome:
        """Run one action of a client (what its panel's buttons and a lesson's steps
        do: ``open /index.html``, ``retr 1``…), with ``settings`` taken first.

        Actions of one client run one at a time. The state shows the action while it
        runs and its outcome after; an action that fails says why in ``Outcome`` and
        in the state's ``error``, never by raising (a bug in a kind is printed on
        stderr and shown as an error too)."""
        return await self._clients.act(node_id, verb, args, settings=settings)

    async def client_close(self, node_id: str) -> NodeInfo:
        """Close a client's connections (its ``close`` action)."""
        return await self._clients.close(node_id)

    async def remove_client(self, node_id: str) -> None:
        await self._clients.remove(node_id)

    def name_endpoint(self, node_id: str, address: str) -> None:
        """Tell the UI that ``address`` is one end of lab client ``node_id``."""
        self._clients.name_endpoint(node_id, address)

    def client_object(self, node_id: str) -> ClientObject:
        """The client object itself (call its coroutines on the engine's loop): for
        tests and the engine's own commands; panels and lessons use ``client_act``."""
        return self._clients.obj(node_id)

    # ---- the capture, replay, shutting down ----------------------------------------

    async def clear_capture(self) -> None:
        """Empty the capture (a lesson starts clean); every reader hears CaptureCleared.
        What a stepping Wire still holds is forwarded first: held chunks go by their
        message's id, and the ids start again at 1."""
        self.wire_board.forward_all(None)
        self.capture.clear()

    async def replay(self, connection_id: str,
                     message_ids: Sequence[int] | None = None) -> ReplayResult:
        """Re-send connection ``connection_id``'s client messages (or ``message_ids``) to
        its server as a new connection through its Wire, so it is captured: lab/replay.py."""
        from lab.replay import ReplayError, replay  # not needed at start-up

        try:
            return await replay(self.capture, connection_id, message_ids,
                                wires=self._wires_of(None), patient=self.wire_board.patient)
        except ReplayError as exc:
            raise EngineError(str(exc)) from None

    async def shutdown(self) -> None:
        """Stop every client, server and Wire; no port stays bound afterwards. The
        capture stays whole (Stop all is not the end): whoever ends the process calls
        ``capture.finish()``, which deletes its store of older messages."""
        await self._clients.close_all()
        await self._servers.stop_all()
        await self.routing.stop()
