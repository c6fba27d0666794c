"""The engine's commands on its Wires: faults, step mode, and the held queue.

A mixin of ``Engine``: it finds Wires by node id (a server's Wire, and its TCP
side for DNS) or relay id (``r1``…), and None means every Wire of the engine.
"""

from __future__ import annotations

from typing import Any

from lab.faults import Faults, FaultState
from lab.hold import HeldMessage
from lab.wire import TcpWire, UdpWire

Wire = TcpWire | UdpWire


class WireControls:
    """Faults, step mode and held messages, by node id. Call on the engine's loop."""

    #: What the user set, by node or relay id: a Wire made later takes it.
    _faults_by_id: dict[str, Faults]
    #: Ids in step mode; "*" is every Wire.
    _step_ids: set[str]

    def _wires_of(self, node_id: str | None) -> list[Wire]:
        raise NotImplementedError  # the Engine's

    def set_faults(self, node_id: str, **settings: Any) -> Faults:
        """Change the faults of a server's Wire(s) or a relay, live (see ``Faults``
        for the names: latency, jitter, bandwidth, loss, stall, reset_after,
        reset_at_message, refuse, seed). A stopped server keeps them for its next start. Raises
        ValueError for a bad setting."""
        from lab.engine import EngineError

        if node_id not in self._known_ids():
            raise EngineError(f"no server or relay {node_id!r}")
        faults = self._faults_by_id.get(node_id, Faults()).changed(**settings)
        self._faults_by_id[node_id] = faults
        for wire in self._wires_of(node_id):
            wire.set_faults(**settings)
        return faults

    def faults(self, node_id: str) -> Faults:
        """The faults set on a server or relay (none set: all off)."""
        return self._faults_by_id.get(node_id, Faults())

    def _known_ids(self) -> set[str]:
        raise NotImplementedError  # the Engine's

    def apply_saved(self, node_id: str, wire: Wire) -> None:
        """A Wire just made for ``node_id`` takes the faults and step mode set on it."""
        faults = self._faults_by_id.get(node_id)
        if faults is not None:
            wire.fault_state = FaultState(faults)
        if node_id in self._step_ids or "*" in self._step_ids:
            wire.set_step(True)

    def set_step(self, node_id: str | None, on: bool) -> None:
        """Step mode on a server's Wire(s) or a relay, or (None) on every Wire, lab
        clients' outbound ones included. Off forwards everything held, in order."""
        ids = self._step_ids
        key = "*" if node_id is None else node_id
        if on:
            ids.add(key)
        else:
            ids.discard(key)
            if node_id is None:
                ids.clear()
        for wire in self._wires_of(node_id):
            wire.set_step(on or (node_id is not None and "*" in ids))

    def stepping(self, node_id: str | None) -> bool:
        ids = self._step_ids
        return "*" in ids or (node_id is not None and node_id in ids)

    def held(self, node_id: str | None = None) -> list[HeldMessage]:
        """What the Wire(s) of ``node_id`` (None: all) hold, oldest first."""
        out = [m for wire in self._wires_of(node_id) for m in wire.holds.messages()]
        return sorted(out, key=lambda m: m.id)

    def _holder(self, message_id: int) -> Wire:
        from lab.engine import EngineError

        for wire in self._wires_of(None):
            if message_id in wire.holds:
                return wire
        raise EngineError(f"message #{message_id} is not held (any more)")

    def forward(self, message_id: int) -> None:
        """Send a held message on, unchanged."""
        self._holder(message_id).holds.forward(message_id)

    def forward_all(self, node_id: str | None = None) -> int:
        """Send on everything the Wire(s) of ``node_id`` (None: all) hold; how many."""
        return sum(wire.holds.forward_all() for wire in self._wires_of(node_id))

    def drop(self, message_id: int) -> None:
        """Drop a held message: over TCP the Wire resets the connection both ways
        (the client sees 'connection reset by peer'); over UDP the datagram is lost."""
        self._holder(message_id).holds.drop(message_id)

    def edit(self, message_id: int, data: bytes) -> int:
        """Send ``data`` instead of a held message's bytes. The capture keeps the
        original and adds the edited bytes as an injected Message; its id."""
        wire = self._holder(message_id)
        held = next(m for m in wire.holds.messages() if m.id == message_id)
        conn = wire.capture.connections[held.connection]
        first = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        new_id = wire.inject(conn, held.sender, f"Edited #{message_id}: {first[:80]}",
                             raw=data)
        wire.holds.forward(message_id, data)
        return new_id
