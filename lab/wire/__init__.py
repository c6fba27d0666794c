"""The Wire: a relay between a client and a server that captures what crosses it.

    relay.py     TcpWire: listening, accepting, caps, the slow-client guard
    udp.py       UdpWire: one session (and Connection) per client address
    base.py      what both share: addresses, faults, step mode, bind errors, limits
    leg.py       one socket of a TCP link (pauses, slices of large reads, resets)
    link.py      one TCP connection: two Legs, its tap, its layers, faults, resets
    tap.py       the one tap of TCP links and UDP sessions: dissect, capture, hold
    layers/      protocol work between a link's Legs (ftp: data-address rewrite)
    faults.py    latency, bandwidth, loss, stall, resets; the Outbox that applies them
    hold.py      step mode's held chunks (HeldMessage, HoldQueue)
    board.py     the engine's wire board: faults per Wire, step mode, held messages,
                 and its patience (longer timeouts while a Wire of the engine steps)
    budget.py    ConnectionBudget: the connections an engine's Wires may hold open

Nothing in here imports the engine; ``lab.hold`` (STEP_TIMEOUT, Patience: what lab
clients read while a Wire steps) stays outside so clients need not load the Wire.
"""

from __future__ import annotations

from lab.wire.base import (
    CONNECT_TIMEOUT,
    UDP_IDLE,
    UPSTREAM_KEPT,
    CountCallback,
    PortInUseError,
    bind_error,
)
from lab.wire.budget import PROCESS_BUDGET, ConnectionBudget
from lab.wire.relay import MIN_RATE, SLOW_AFTER, TcpWire
from lab.wire.udp import UdpWire

Wire = TcpWire | UdpWire

__all__ = ["CONNECT_TIMEOUT", "MIN_RATE", "PROCESS_BUDGET", "SLOW_AFTER", "UDP_IDLE",
           "UPSTREAM_KEPT", "ConnectionBudget", "CountCallback", "PortInUseError", "TcpWire",
           "UdpWire", "Wire", "bind_error"]
