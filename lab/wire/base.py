"""What TCP and UDP Wires share: where they listen and forward, faults, step mode,
bind errors, limits."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from lab.capture import Capture
from lab.dissect import DissectorFactory
from lab.hold import Patience, as_given, patient_while
from lab.lan import Caps
from lab.model import Connection, Piece, Sender, format_address
from lab.wire.budget import PROCESS_BUDGET, ConnectionBudget
from lab.wire.faults import Faults, FaultState
from lab.wire.hold import HoldQueue

#: A UDP peer silent this long (seconds) is forgotten and its Connection closed.
UDP_IDLE = 60.0
#: At a cap, a UDP session silent this long (seconds) gives its place to a new client
#: address, as a NAT table's oldest entry does, so a burst of addresses (a flood)
#: keeps others out only while it lasts, not for UDP_IDLE.
UDP_YIELD = 1.0
#: How long the Wire waits for its target to accept a connection (seconds).
CONNECT_TIMEOUT = 10.0
#: Upstream outcomes kept for ``TcpWire.upstream_result`` (and errors for
#: ``UdpWire.upstream_error``).
UPSTREAM_KEPT = 256


class PortInUseError(OSError):
    """The port the user asked for cannot be bound; the message says what to do."""


def bind_error(exc: OSError, host: str, port: int) -> OSError:
    """Turn a bind failure into an error a user can act on."""
    where = format_address(host, port)
    if exc.errno == errno.EADDRINUSE:
        return PortInUseError(
            exc.errno,
            f"port {port} is already in use on {host}: another program (or another lab "
            f"server) listens at {where}. Choose another port, or 0 to let the system pick one.",
        )
    if exc.errno == errno.EACCES:
        return PortInUseError(
            exc.errno, f"not allowed to listen on port {port}: ports below 1024 need "
            "administrator rights. Choose a port from 1024 up.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return PortInUseError(exc.errno, f"{host} is not an address of this machine.")
    return PortInUseError(exc.errno, f"cannot listen on {where}: {exc.strerror or exc}")


CountCallback = Callable[[int], None]


class _WireBase:
    """What TCP and UDP Wires share: where they listen, where they forward, who watches."""

    def __init__(
        self,
        capture: Capture,
        *,
        listen: tuple[str, int],
        target: tuple[str, int],
        protocol: str = "raw",
        node: str | None = None,
        on_count: CountCallback | None = None,
        parent: str | None = None,
        dissector: DissectorFactory | None = None,
        reverse: bool = False,
        one_shot: bool = False,
        budget: ConnectionBudget | None = None,
    ) -> None:
        """``parent``: the connection this Wire's connections belong to (an FTP data
        connection's control connection); ``dissector`` replaces the protocol's;
        ``reverse``: the one who connects is the server; ``one_shot``: stop
        listening after the first connection; ``budget``: the connections this Wire
        may open, shared with its engine's other Wires (none: PROCESS_BUDGET)."""
        self.capture = capture
        self.listen = listen
        self.target = target
        self.protocol = protocol
        self.node = node
        self.on_count = on_count
        self.parent = parent
        self.dissector = dissector
        self.reverse = reverse
        self.one_shot = one_shot
        self.address: tuple[str, int] = listen
        #: The id the engine knows this Wire by (its node, or "r1" for a relay).
        self.wire_id = node or ""
        self.fault_state = FaultState()
        #: Step mode: hold each chunk until ``holds`` forwards or drops it.
        self.step = False
        self.holds = HoldQueue()
        #: Caps on connections per client address and in all (lab.lan; none by default).
        self.caps = Caps()
        #: Counts this Wire's connections against the open-file ceiling (lab/wire/budget.py).
        self.budget = budget if budget is not None else PROCESS_BUDGET
        #: Its engine's patience (the wire board's ``patient``: longer while a Wire of
        #: the engine steps); on its own, a Wire is patient only while it steps itself.
        self.engine_patience: Patience = as_given

    def patient(self, timeout: float) -> float:
        """``timeout``, or STEP_TIMEOUT while this Wire or another of its engine steps."""
        return patient_while(self.step, self.engine_patience(timeout))

    @property
    def faults(self) -> Faults:
        return self.fault_state.faults

    def set_faults(self, **settings: Any) -> Faults:
        """Change some faults (see ``Faults``) at once, for every connection;
        ValueError if a setting is unknown or out of range."""
        faults = self.fault_state.update(**settings)
        self.faults_changed()
        return faults

    def faults_changed(self) -> None:
        """Open connections take the new settings (a cleared stall flows again)."""

    def set_step(self, on: bool) -> None:
        """Turn step mode on or off; off forwards everything held, in order."""
        self.step = on
        if not on:
            self.holds.forward_all()

    def end_holds(self) -> None:
        """The Wire stops: nothing stays held."""
        self.holds = HoldQueue()

    def inject(self, conn: Connection, sender: Sender, summary: str, *,
               raw: bytes = b"", held: bool = False) -> int:
        """Capture what the Wire did (a fault, an edit) as an injected Message; its id."""
        piece = Piece(sender=sender, time=self.capture.clock(), summary=summary, raw=raw,
                      size=len(raw))
        return self.capture.add(conn, piece, injected=True, held=held).id

    @property
    def public_address(self) -> str:
        """Where clients reach this Wire, as ``host:port``."""
        return format_address(*self.address)

    def _count_changed(self, count: int) -> None:
        if self.on_count is not None:
            self.on_count(count)
