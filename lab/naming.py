"""What the lab calls each end of a message: done once here, for the main window's
wire and inspector, the capture viewer (a saved file keeps its nodes and its
clients' addresses) and any export that names ends.

A lab server is its node's name with the port ("HTTP server #1 :8080"); a lab
client its node's name (a lesson's role); anything else by address: an outside
server by its real host:port (an outbound Wire captures its connections so), an
outside client as "outside client 10.0.0.7", by its host only (each of its
connections comes from a new port: one name a host).
"""

from __future__ import annotations

from collections.abc import Mapping

from lab.model import Connection, Message, NodeInfo, Sender


def host_of(address: str) -> str:
    """``address`` without its port ("10.0.0.5:50312" → "10.0.0.5")."""
    host, sep, _ = address.rpartition(":")
    return host if sep and host else address


def outside_client(address: str) -> str:
    """What a client that is no lab node is called: "outside client 10.0.0.7"."""
    return f"outside client {host_of(address)}"


def by_address(message: Message, side: Sender) -> str:
    """A client by its host, a server by host:port: the name when no node is known."""
    return host_of(message.client) if side is Sender.CLIENT else message.server


class Namer:
    """Names the ends of messages over the lab's ``nodes`` (id → NodeInfo), the lab
    clients' ``endpoints`` (local address → node id) and, for an FTP data connection
    whose port was never named, the ``connections`` (to find its control connection).

    The mappings are read when asked, so a live view may pass the ones it keeps
    up to date. Call it as ``namer(message, side)``.
    """

    def __init__(self, nodes: Mapping[str, NodeInfo], endpoints: Mapping[str, str],
                 connections: Mapping[str, Connection] | None = None) -> None:
        self.nodes = nodes
        self.endpoints = endpoints
        self.connections: Mapping[str, Connection] = connections or {}

    def __call__(self, message: Message, side: Sender) -> str:
        return self.client(message) if side is Sender.CLIENT else self.server(message)

    def server(self, message: Message) -> str:
        node = self.nodes.get(message.node) if message.node is not None else None
        if node is None:
            return message.server
        return f"{node.name} :{message.server.rpartition(':')[2]}"

    def client(self, message: Message) -> str:
        node = self.nodes.get(self.client_node(message) or "")
        return node.name if node is not None else outside_client(message.client)

    def client_node(self, message: Message) -> str | None:
        """The lab client node ``message`` came from: as the Capture knew it, else by
        its address, else (a data connection) by its control connection's address."""
        node = message.client_node or self.endpoints.get(message.client)
        if node is None and message.parent is not None:
            control = self.connections.get(message.parent)
            if control is not None:
                node = self.endpoints.get(control.client)
        return node
