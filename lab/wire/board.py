"""The wire board: the engine's commands on its Wires (faults, step mode, held messages).

The Engine holds one ``WireBoard`` (``engine.wire_board``); the board finds Wires
through the two functions it is made with: ``wires_of(id)`` (a server's Wire, and
its TCP side for DNS, or a relay ``r1``…; None means every Wire of the engine)
and ``known_ids()``. It remembers what the user set per id, so a Wire made later
(a server restarted, a client's outbound Wire) takes it (``apply_saved``).
Errors a user can act on are ``lab.errors.EngineError``.

The board is also its engine's *patience* (``patient``): a timeout stretched to an
hour while a Wire of this engine steps, which the engine's clients and Wires use,
so step mode in one engine never makes another engine's clients wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.errors import EngineError
from lab.hold import patient_while
from lab.wire.faults import Faults, FaultState
from lab.wire.hold import HeldMessage
from lab.wire.relay import TcpWire
from lab.wire.udp import UdpWire

Wire = TcpWire | UdpWire


class WireBoard:
    """Faults, step mode and held messages, by node or relay id. Call on the engine's loop."""

    def __init__(self, wires_of: Callable[[str | None], list[Wire]],
                 known_ids: Callable[[], set[str]]) -> None:
        self._wires_of = wires_of
        self._known_ids = known_ids
        #: What the user set, by node or relay id: a Wire made later takes it.
        self._faults_by_id: dict[str, Faults] = {}
        #: Ids in step mode; "*" is every Wire.
        self._step_ids: set[str] = set()

    def set_faults(self, node_id: str, **settings: Any) -> Faults:
        """Change the faults of a server's Wire(s) or a relay, live (see ``Faults``
        for the names: latency, jitter, bandwidth, loss, stall, reset_after,
        reset_at_message, refuse, seed). A stopped server keeps them for its next start. Raises
        ValueError for a bad setting."""
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

    def patient(self, timeout: float) -> float:
        """``timeout``, or STEP_TIMEOUT (lab/hold.py) while a Wire of this engine steps."""
        return patient_while(any(w.step for w in self._wires_of(None)), timeout)

    def apply_saved(self, node_id: str, wire: Wire) -> None:
        """A Wire just made for ``node_id`` takes the faults and step mode set on it,
        and the engine's patience."""
        wire.engine_patience = self.patient
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

