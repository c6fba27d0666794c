"""The one seam between the engine thread and the Qt thread.

The capture bus calls its subscribers on the engine thread; the bridge's
subscriber only appends to a deque. A timer on the Qt thread drains the deque
about 30 times a second and re-emits what happened as batched Qt signals, so
10,000 messages a second become ~30 model inserts, not 10,000.

A load test's clients (a node of a kind marked ``sampled`` in lab/kinds.py, which names each of
its connections as it connects) can send more than the views should show: above
``sample_above`` of their messages a second (the app sets it; tests choose) the
bridge samples them: it passes on 1 of their messages in K (K from
``SAMPLING_STEPS``, just enough to stay under the limit) so the views do not drown,
while ``message_count`` stays exact and the capture itself keeps everything. Every
other message is passed on, however fast they come: the window keeps up with
10,000 a second.

Captured messages no longer live as long as the capture: the capture keeps its
newest in memory and spills the rest to its store (lab/spill.py), and so does the
inspector's model (ui/models/messages.py), so what a full collection walks stays
bounded however long the lab runs. Once the lab gets busy (``FREEZE_FIRST``
messages) the bridge moves what the process holds then (modules, widgets, the lab's
nodes: what lives as long as the app) out of the garbage collector's reach
(``gc.freeze``), once: freezing again later would only freeze messages that go soon,
and any cycle frozen with them (a closed connection's objects) could never be
collected until ``close``, which gives it all back to the collector.

The bridge keeps the capture (``capture``): the model reads rows that left memory
from its store.
"""

from __future__ import annotations

import gc
import time
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

from lab import kinds as kind_table
from lab.capture import Capture
from lab.model import (
    CaptureCleared,
    ClientChanged,
    ClientState,
    Connection,
    ConnectionClosed,
    ConnectionOpened,
    EndpointNamed,
    Event,
    Message,
    MessageAmended,
    MessageCaptured,
    NodeChanged,
    NodeInfo,
    NodeRemoved,
    NodeState,
    ServerChanged,
    ServerState,
)

#: How often the queue is drained (milliseconds): about 30 Hz.
DRAIN_INTERVAL_MS = 33
#: The app's limit: more load messages a second than this and the views see a sample.
SAMPLE_ABOVE = 300
#: Closed connections the window keeps (a day of short connections must not grow it).
CLOSED_KEPT = 10_000
#: The sampling rates (1 in K) the bridge chooses from.
SAMPLING_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
#: How many captured messages before the (only) ``gc.freeze``.
FREEZE_FIRST = 1_000


def _number(connection: str) -> int:
    """The number in a connection's id (``c12``: 12; 0 if it has none)."""
    digits = connection[1:]
    return int(digits) if digits.isdigit() else 0


def sampling_step(rate: float, limit: int | None) -> int:
    """The smallest K in SAMPLING_STEPS that brings ``rate`` messages/s under ``limit``."""
    if limit is None or rate <= limit:
        return 1
    return next((k for k in SAMPLING_STEPS if rate / k <= limit), SAMPLING_STEPS[-1])


def freeze_long_lived() -> None:
    """Keep the garbage collector from walking what lives on (what the app holds once
    the lab is busy).

    Young garbage is collected first (cheap), so little garbage is frozen with them;
    frozen objects are still freed by reference counting when the capture drops them.
    """
    gc.collect(1)
    gc.freeze()


class EngineBridge(QObject):
    """Engine events, re-emitted on the Qt thread in batches.

    Signals:
        messages_added(list[Message]): new messages, oldest first.
        connections_changed(list[Connection]): connections opened or closed, in order.
        node_changed(NodeInfo): a server or client appeared or changed (latest state).
        node_removed(str): a node's id, after it was removed.
        endpoints_named(dict[str, str]): local addresses of lab clients → node ids.
        sampling_changed(int): K of "1 in K" for load traffic changed (1: every
            message is passed on).
        client_changed(ClientState): a client's state (the latest of a batch).
        server_changed(ServerState): a server's live data (the latest of a batch).
        cleared(): the capture was emptied; views drop their rows (emitted before
            the batch's messages, which came after the clearing).

    It also keeps the UI's view of the nodes (``nodes``), of the connections
    (``connections``), of the lab clients' addresses (``endpoints``) and of the
    clients' and servers' states (``client_states``, ``server_states``), updated
    just before the signals are emitted.
    """

    messages_added = Signal(list)
    connections_changed = Signal(list)
    node_changed = Signal(object)
    node_removed = Signal(str)
    endpoints_named = Signal(dict)
    sampling_changed = Signal(int)
    client_changed = Signal(object)
    server_changed = Signal(object)
    cleared = Signal()
    messages_amended = Signal(list)

    def __init__(self, capture: Capture, parent: QObject | None = None, *,
                 sample_above: int | None = None) -> None:
        super().__init__(parent)
        self.sample_above = sample_above
        #: The engine's capture (read on this thread only for its store's path).
        self.capture = capture
        self.sampling = 1  # K: one message in K reaches the views
        self.sampled_out = 0  # messages counted but not passed on
        self._recent: deque[tuple[float, int]] = deque()  # (drain, load messages) of 1 s
        self._nth = 0
        self._queue: deque[Event] = deque()
        self._unsubscribe = capture.subscribe(self._queue.append)  # runs on the engine thread
        self.nodes: dict[str, NodeInfo] = {}
        #: The connections open now and the newest CLOSED_KEPT closed ones (older closed
        #: ones are let go: ``is_closed`` still knows them); ``seen`` counts them all.
        self.connections: dict[str, Connection] = {}
        self.seen = 0
        self._closed_ids: deque[str] = deque()  # closed, oldest first
        self._let_go_up_to = 0  # the highest number of a closed connection let go
        self.endpoints: dict[str, str] = {}  # a lab client's local address → its node id
        self.client_states: dict[str, ClientState] = {}
        self.server_states: dict[str, ServerState] = {}
        self.message_count = 0
        self._freeze_at: int | None = FREEZE_FIRST  # message_count at which to gc.freeze
        self.frozen = False
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def close(self) -> None:
        """Stop listening to the engine (the app is quitting)."""
        self._timer.stop()
        self._unsubscribe()
        if self.frozen:
            self.frozen = False
            gc.unfreeze()

    def running_servers(self) -> list[NodeInfo]:
        return [n for n in self.nodes.values()
                if n.role == "server" and n.state is NodeState.RUNNING]

    def is_closed(self, connection: str) -> bool:
        """Whether ``connection`` has closed (one let go long ago has)."""
        conn = self.connections.get(connection)
        if conn is not None:
            return conn.closed is not None
        return 0 < _number(connection) <= self._let_go_up_to

    def _keep(self, conn: Connection) -> None:
        if conn.id not in self.connections:
            self.seen += 1
        self.connections[conn.id] = conn
        if conn.closed is None:
            return
        self._closed_ids.append(conn.id)
        while len(self._closed_ids) > CLOSED_KEPT:
            old = self._closed_ids.popleft()
            if self.connections.pop(old, None) is not None:
                self._let_go_up_to = max(self._let_go_up_to, _number(old))

    def open_connections(self) -> int:
        return sum(1 for c in self.connections.values() if c.closed is None)

    def drain(self) -> None:
        """Take everything queued so far and emit it as batches (Qt thread)."""
        count = len(self._queue)
        if not count:
            if self.sampling > 1:
                self._sample([])  # the rate fell: back to every message, in time
            return
        messages: list[Message] = []
        connections: list[Connection] = []
        nodes: dict[str, NodeInfo | None] = {}
        named: dict[str, str] = {}
        states: dict[str, ClientState | ServerState] = {}
        amended: dict[int, Message] = {}  # learned later of messages (undelivered bytes)
        for _ in range(count):
            event = self._queue.popleft()
            if isinstance(event, MessageCaptured):
                messages.append(event.message)
            elif isinstance(event, ClientChanged | ServerChanged):
                key = f"{type(event).__name__}:{event.state.node}"
                states.pop(key, None)  # keep the order of the latest change
                states[key] = event.state
            elif isinstance(event, CaptureCleared):
                self._clear()
                messages, connections, named = [], [], {}
            elif isinstance(event, ConnectionOpened | ConnectionClosed):
                connections.append(event.connection)
            elif isinstance(event, NodeChanged):
                nodes.pop(event.node.id, None)  # keep the order of the latest change
                nodes[event.node.id] = event.node
            elif isinstance(event, NodeRemoved):
                nodes.pop(event.node_id, None)
                nodes[event.node_id] = None
            elif isinstance(event, EndpointNamed):
                named[event.address] = event.node_id
            elif isinstance(event, MessageAmended):
                amended[event.message.id] = event.message
        if named:  # before sampling, which goes by names: a load client's connection
            self.endpoints.update(named)  # is named before its first message
        messages = self._sample(messages, nodes)
        if named:  # before the messages, so their rows are named when first painted
            self.endpoints_named.emit(named)
        if amended:  # one of this batch: its row starts amended
            messages = [amended.pop(m.id, m) for m in messages]
        self._emit(messages, connections, nodes)
        if amended:
            self.messages_amended.emit(list(amended.values()))
        self._emit_states(states)
        if self._freeze_at is not None and self.message_count >= self._freeze_at:
            self._freeze_at = None
            self.frozen = True
            freeze_long_lived()

    def _sample(self, messages: list[Message],
                nodes: dict[str, NodeInfo | None] | None = None) -> list[Message]:
        """Count the load clients' ``messages`` in the last second's rate, choose K,
        keep 1 in K of them and every other message. ``nodes``: the batch's changes."""
        self.message_count += len(messages)
        load = self._load_clients(messages, nodes or {})
        now = time.monotonic()
        self._recent.append((now, sum(m.client in load for m in messages) if load else 0))
        while self._recent and self._recent[0][0] < now - 1.0:
            self._recent.popleft()
        step = sampling_step(sum(n for _, n in self._recent), self.sample_above)
        if step != self.sampling:
            self.sampling = step
            self.sampling_changed.emit(step)
        if step == 1 or not load:
            return messages
        kept = []
        for message in messages:
            if message.client in load:
                self._nth += 1
                if self._nth % step:
                    continue
            kept.append(message)
        self.sampled_out += len(messages) - len(kept)
        return kept

    def _load_clients(self, messages: list[Message],
                      nodes: dict[str, NodeInfo | None]) -> set[str]:
        """The client addresses in ``messages`` that a load client named (``nodes``:
        the nodes changed in this batch, not yet in ``self.nodes``)."""
        load: set[str] = set()
        if not self.endpoints:
            return load
        for client in {m.client for m in messages}:
            node_id = self.endpoints.get(client, "")
            node = nodes[node_id] if node_id in nodes else self.nodes.get(node_id)
            if node is not None and kind_table.sampled(node.kind):
                load.add(client)
        return load

    def _clear(self) -> None:
        """The capture was emptied: forget its connections and say so at once (the
        views drop their rows before this batch's messages, which came after)."""
        self.connections.clear()
        self._closed_ids.clear()
        self.seen = 0
        self.message_count = 0
        self.sampled_out = 0
        self.cleared.emit()

    def _emit_states(self, states: dict[str, ClientState | ServerState]) -> None:
        for state in states.values():
            if isinstance(state, ClientState):
                if state.node in self.nodes:  # not one removed meanwhile
                    self.client_states[state.node] = state
                    self.client_changed.emit(state)
            elif state.node in self.nodes:
                self.server_states[state.node] = state
                self.server_changed.emit(state)

    def _emit(
        self,
        messages: list[Message],
        connections: list[Connection],
        nodes: dict[str, NodeInfo | None],
    ) -> None:
        for node_id, info in nodes.items():
            if info is None:
                self.nodes.pop(node_id, None)
                self.client_states.pop(node_id, None)
                self.server_states.pop(node_id, None)
                self.node_removed.emit(node_id)
            else:
                self.nodes[node_id] = info
                self.node_changed.emit(info)
        if connections:
            for conn in connections:
                self._keep(conn)
            self.connections_changed.emit(connections)
        if messages:
            self.messages_added.emit(messages)
