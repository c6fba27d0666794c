"""The lab's data: Messages, Connections, and the events the engine publishes.

Everything here is frozen, so it may cross from the engine thread to the Qt
thread without locks. Only the Capture makes Messages and Connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: Raw bytes kept per Message; past this only a prefix is kept (flag ``truncated``).
RAW_LIMIT = 64 * 1024

FieldValue = str | int | float | bool | None
Fields = tuple[tuple[str, FieldValue], ...]


class Sender(StrEnum):
    CLIENT = "client"
    SERVER = "server"


class Transport(StrEnum):
    TCP = "tcp"
    UDP = "udp"


class NodeState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """What a dissector makes of some bytes: a Message without its identity.

    ``raw`` is the bytes as they crossed (at most RAW_LIMIT of them); ``size``
    is how many bytes the message had in all.
    """

    sender: Sender
    time: float
    summary: str
    raw: bytes
    size: int
    fields: Fields = ()
    truncated: bool = False
    malformed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """One client-server conversation seen by a Wire (a TCP stream or a UDP peer)."""

    id: str
    protocol: str
    transport: Transport
    client: str
    server: str
    opened: float
    closed: float | None = None
    parent: str | None = None
    node: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One protocol message, numbered by the Capture (``id`` counts from 1).

    It knows where it belongs, set once by the Capture: ``node`` is the lab server
    node of its Wire (None for a bare relay), ``client_node`` the lab client node
    whose local address it came from (None while not known: a client often names
    its address after its first message), ``parent`` its connection's parent (an
    FTP data connection's control connection).
    """

    id: int
    time: float
    connection: str
    protocol: str
    sender: Sender
    client: str
    server: str
    summary: str
    size: int
    raw: bytes
    fields: Fields = ()
    truncated: bool = False
    malformed: bool = False
    injected: bool = False
    held: bool = False
    node: str | None = None
    client_node: str | None = None
    parent: str | None = None
    #: Of ``size``, the bytes the Wire read but never delivered to the other side (the
    #: last ones: the peer had closed or reset, or the Wire reset); 0 when all went on.
    undelivered: int = 0

    @property
    def source(self) -> str:
        return self.client if self.sender is Sender.CLIENT else self.server

    @property
    def destination(self) -> str:
        return self.server if self.sender is Sender.CLIENT else self.client


@dataclass(frozen=True, slots=True)
class MessageCaptured:
    message: Message


@dataclass(frozen=True, slots=True)
class MessageAmended:
    """A Message captured before learned more: ``message`` replaces the one of its id
    (its ``undelivered`` bytes, known only once the connection ends)."""

    message: Message


@dataclass(frozen=True, slots=True)
class ConnectionOpened:
    connection: Connection


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    connection: Connection


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    """A server or client of the lab as the UI shows it."""

    id: str
    kind: str
    role: str  # "server" | "client"
    name: str
    state: NodeState
    address: str = ""
    detail: str = ""
    connections: int = 0
    #: Counts the node's changes: a view that gets an older one (events arrive
    #: later than a command's answer) keeps what it has.
    revision: int = 0
    #: A running server's Wire caps: connections from one address, in all (0: none).
    caps: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class NodeChanged:
    node: NodeInfo


@dataclass(frozen=True, slots=True)
class NodeRemoved:
    node_id: str


@dataclass(frozen=True, slots=True)
class EndpointNamed:
    """A lab client used this local address: the UI may call it by the node's name."""

    address: str
    node_id: str


#: A client's settings as the engine holds them: (name, value) pairs, in the kind's order.
Settings = tuple[tuple[str, str], ...]


def settings_of(values: Mapping[str, object]) -> Settings:
    """``values`` as Settings: every value a string (``True`` → ``"true"``)."""
    return tuple((name, str(value).lower() if isinstance(value, bool) else str(value))
                 for name, value in values.items())


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a client's action got back: ``shown`` for a person; ``values`` for a
    scenario's expectations (ok, status, reply, rcode, and ``text`` for ``contains``)."""

    shown: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.values.get("ok", True))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientState:
    """A lab client as the engine holds it; its panel shows exactly this.

    ``settings`` are what its fields show (from a lesson, a saved setup or the user);
    ``busy`` says what it is doing now ("" when idle); ``status`` and ``error`` are the
    last action's outcome for a person; ``view`` is the kind's own frozen record of
    what the client holds now (the page loaded, the mailbox listed, the chat's lines…),
    defined in the kind's module under lab/clients/.
    """

    node: str
    kind: str
    settings: Settings = ()
    busy: str = ""
    status: str = ""
    error: str = ""
    view: Any = None
    #: Counts the state's changes, as NodeInfo.revision does.
    revision: int = 0

    def setting(self, name: str, default: str = "") -> str:
        return next((value for key, value in self.settings if key == name), default)


@dataclass(frozen=True, slots=True)
class ClientChanged:
    state: ClientState


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerState:
    """A lab server's live data as its panel shows it (mailboxes, zone, rows, room):
    ``view`` is the kind's own frozen record, defined in its module under lab/servers/."""

    node: str
    kind: str
    view: Any = None
    revision: int = 0


@dataclass(frozen=True, slots=True)
class ServerChanged:
    state: ServerState


@dataclass(frozen=True, slots=True)
class CaptureCleared:
    """The capture was emptied (a lesson starts clean): views drop their rows."""


Event = (MessageCaptured | ConnectionOpened | ConnectionClosed | NodeChanged | NodeRemoved
         | EndpointNamed | ClientChanged | ServerChanged | CaptureCleared | MessageAmended)


def format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """Split ``host:port`` (or ``:port``, ``port``, ``[v6]:port``); ValueError if bad."""
    text = text.strip()
    if not text:
        raise ValueError("empty address: expected host:port")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bad address {text!r}: expected [host]:port")
        port_text = rest[1:]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    else:
        host, port_text = "", text
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"bad port in {text!r}: expected a number 0-65535") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"bad port {port} in {text!r}: expected 0-65535")
    return (host or default_host), port


def is_rewrite_note(message: Message) -> bool:
    """The Wire's note of an FTP control line it rewrote (a PORT, EPRT, 227, 229 or the
    200 that answers a PORT): injected, with the line as the other side got it (field
    ``line``) or as the server got it (``sent to the server``)."""
    keys = {key for key, _ in message.fields}
    return message.injected and "wire" in keys and bool(keys & {"line", "sent to the server"})


def search_text(message: Message) -> str:
    """What a filter looks in, casefolded: the summary, the connection as the inspector
    labels it (``c1 ↳ c3``), protocol, client, server and sender. The inspector's
    in-memory index (ui/models/filter.py) and the capture's store (lab/store_read.py)
    search the same text."""
    conn = message.connection
    label = f"{message.parent} ↳ {conn}" if message.parent else conn
    return " ".join((message.summary, label, message.protocol, message.client,
                     message.server, message.sender.value)).casefold()
