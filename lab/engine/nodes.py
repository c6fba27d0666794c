"""The node registry: the engine's servers and clients, their ids and names.

Every change of a node is published on the capture's bus as NodeChanged (a new
revision of its NodeInfo), and its removal as NodeRemoved. The server and client
parts of the engine (servers.py, clients.py) keep what they run in the nodes
held here; routing reads the servers' Wires from here.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field, replace

from lab.capture import Capture
from lab.clients import ClientObject
from lab.clients.handle import ClientHandle
from lab.errors import EngineError
from lab.lan import Caps
from lab.model import NodeChanged, NodeInfo, NodeRemoved, NodeState
from lab.servers import Backend, ServerKind
from lab.servers.live import LiveFeed
from lab.wire import TcpWire, UdpWire

Wire = TcpWire | UdpWire


@dataclass
class ServerNode:
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

    @property
    def wires(self) -> list[Wire]:
        """Its Wires while running: the main one and the TCP side, if any."""
        return [w for w in (self.wire, self.tcp_wire) if w is not None]


@dataclass
class ClientNode:
    info: NodeInfo
    handle: ClientHandle
    #: One action at a time per client: a lesson step and a click queue up.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The action holding the lock (removing the client cancels it).
    running: asyncio.Task[object] | None = None
    #: Set when the client is being removed: actions still queued do nothing.
    gone: bool = False

    @property
    def obj(self) -> ClientObject:
        return self.handle.obj  # type: ignore[no-any-return]


class NodeRegistry:
    """The servers and clients of one engine, by id ("s1", "k2"…)."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.servers: dict[str, ServerNode] = {}
        self.clients: dict[str, ClientNode] = {}
        self._ids = itertools.count(1)
        self._numbers: dict[str, itertools.count[int]] = {}

    def nodes(self) -> list[NodeInfo]:
        return [s.info for s in self.servers.values()] + [c.info for c in self.clients.values()]

    def running_servers(self) -> list[NodeInfo]:
        return [s.info for s in self.servers.values() if s.info.state is NodeState.RUNNING]

    def new_id(self, prefix: str) -> str:
        """A fresh node id: ``s`` for a server, ``k`` for a client, one count for both."""
        return f"{prefix}{next(self._ids)}"

    def name(self, title: str) -> str:
        """The next name for a node titled ``title``: "Web server #2"."""
        counter = self._numbers.setdefault(title, itertools.count(1))
        return f"{title} #{next(counter)}"

    def add_server(self, node: ServerNode) -> None:
        self.servers[node.info.id] = node
        self.capture.publish(NodeChanged(node.info))

    def add_client(self, node: ClientNode) -> None:
        self.clients[node.info.id] = node
        self.capture.publish(NodeChanged(node.info))

    def set(self, node: ServerNode | ClientNode, **changes: object) -> NodeInfo:
        """Change a node's info (a new revision) and publish it."""
        node.info = replace(node.info, revision=node.info.revision + 1,
                            **changes)  # type: ignore[arg-type]
        self.capture.publish(NodeChanged(node.info))
        return node.info

    def remove(self, node_id: str) -> None:
        """Forget a node (stopped first by its part) and publish NodeRemoved."""
        self.servers.pop(node_id, None)
        self.clients.pop(node_id, None)
        self.capture.publish(NodeRemoved(node_id))

    def server(self, node_id: str) -> ServerNode:
        try:
            return self.servers[node_id]
        except KeyError:
            raise EngineError(f"no server {node_id!r}") from None

    def client(self, node_id: str) -> ClientNode:
        try:
            return self.clients[node_id]
        except KeyError:
            raise EngineError(f"no client {node_id!r}") from None
