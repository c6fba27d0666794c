"""Routing: where a lab client's connection goes, and the Wires that are no server's.

A lab client asks ``route`` where to connect: a lab server's Wire directly, or
anything else through an *outbound* Wire made on first use (one per transport,
address and protocol), so that every exchange is captured; an outbound Wire
captures its connections as going to the real server (``stands_for``), not to
its own port. Bare relays (``cslab
relay``) are Wires too. Every Wire routing makes takes what the wire board saved
for its id (``adopt``: faults, step mode, the engine's patience) and counts its
connections in the engine's budget. ``wires_of`` finds any Wire of the engine, a
server's included, for the wire board and replay.
"""

from __future__ import annotations

from collections.abc import Callable

from lab import dissect
from lab.capture import Capture
from lab.clients import Routes
from lab.engine.nodes import NodeRegistry, ServerNode
from lab.hold import Patience
from lab.lan import ALL_INTERFACES
from lab.model import Transport
from lab.servers import server_kinds
from lab.wire import ConnectionBudget, TcpWire, UdpWire

LOOPBACK = "127.0.0.1"
LOCAL_NAMES = {"127.0.0.1", "localhost", "::1"}

Wire = TcpWire | UdpWire
#: Give a new Wire what the wire board saved for its id (WireBoard.apply_saved).
Adopt = Callable[[str, Wire], None]


class Routing:
    """The engine's routes, outbound Wires and relays."""

    def __init__(self, registry: NodeRegistry, capture: Capture, budget: ConnectionBudget,
                 adopt: Adopt) -> None:
        self._registry = registry
        self._capture = capture
        self._budget = budget
        self._adopt = adopt
        self._relays: list[Wire] = []
        self._outbound: dict[tuple[Transport, str, int, str], Wire] = {}
        self._relay_numbers = 1

    def routes(self, patient: Patience) -> Routes:
        """What a new lab client of this engine is made with."""
        return Routes(self.route, self.upstream_error, self.upstream_result, patient)

    async def route(self, transport: Transport, host: str, port: int,
                    protocol: str = "raw") -> tuple[str, int]:
        """Where a lab client should connect to reach ``host:port``: a lab server's
        Wire directly, anything else through an outbound Wire, so it is captured."""
        if self.lab_server_at(host, port) is not None:
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

    def lab_server_at(self, host: str, port: int) -> ServerNode | None:
        """The lab server whose Wire listens at ``host:port``, if any."""
        for node in self._registry.servers.values():
            if node.wire is None:
                continue
            wire_host, wire_port = node.wire.address
            if wire_port == port and (host == wire_host or wire_host == ALL_INTERFACES or
                                      (host in LOCAL_NAMES and wire_host in LOCAL_NAMES)):
                return node
        return None

    async def relay(self, listen: tuple[str, int], target: tuple[str, int], *,
                    protocol: str = "raw", transport: Transport = Transport.TCP) -> Wire:
        """A Wire between two outside programs (``cslab relay``). Over TCP, a protocol
        whose server kind also answers over TCP (DNS) is dissected in its TCP form."""
        wire_type = TcpWire if transport is Transport.TCP else UdpWire
        tcp_form = next((spec.tcp_dissector for spec in server_kinds().values()
                         if spec.dissector == protocol and spec.tcp_dissector), "")
        wire = wire_type(self._capture, listen=listen, target=target, protocol=protocol,
                         dissector=(lambda: dissect.make(tcp_form))
                         if tcp_form and transport is Transport.TCP else None,
                         budget=self._budget)
        wire.wire_id = f"r{self._relay_numbers}"
        self._relay_numbers += 1
        self._adopt(wire.wire_id, wire)
        await wire.start()
        self._relays.append(wire)
        return wire

    async def _outbound_wire(self, transport: Transport, host: str, port: int,
                             protocol: str = "raw") -> Wire:
        key = (transport, host, port, protocol)
        wire = self._outbound.get(key)
        if wire is None:
            wire = await self.relay((LOOPBACK, 0), (host, port), transport=transport,
                                    protocol=protocol)
            self._relays.remove(wire)
            wire.stands_for = (host, port)  # its connections go there, as captured
            self._outbound[key] = wire
        return wire

    def wires_of(self, node_id: str | None) -> list[Wire]:
        """The Wires of a server (its TCP side too) or relay; None: every Wire."""
        servers = [s for s in self._registry.servers.values()
                   if node_id is None or s.info.id == node_id]
        wires = [w for s in servers for w in s.wires]
        return wires + [w for w in (*self._relays, *self._outbound.values())
                        if node_id is None or w.wire_id == node_id]

    def known_ids(self) -> set[str]:
        """The ids the wire board knows: every server's, and every relay's."""
        return set(self._registry.servers) | {
            w.wire_id for w in (*self._relays, *self._outbound.values())}

    async def stop(self) -> None:
        """Stop every relay and outbound Wire (the servers' are their part's)."""
        for wire in [*self._relays, *self._outbound.values()]:
            await wire.stop()
        self._relays.clear()
        self._outbound.clear()
