"""The engine: owns the lab's servers, clients, Wires and the Capture.

It is plain asyncio and runs on whatever loop awaits it: ``asyncio.run`` in the
headless CLI, the engine thread's loop in the GUI. Every method that touches
sockets is a coroutine to be awaited on that loop; state changes are published
on the capture's bus as NodeChanged / NodeRemoved events.

The ``Engine`` (facade.py) is composed of small parts: the node registry
(nodes.py), the servers' and clients' lifecycles (servers.py, clients.py),
routing (routing.py), the wire board (lab/wire/board.py, ``engine.wire_board``)
and replay (lab/replay.py). See facade.py.
"""

from __future__ import annotations

from lab.engine.facade import Engine
from lab.errors import EngineError as EngineError  # its home: lab/errors.py

__all__ = ["Engine", "EngineError"]
