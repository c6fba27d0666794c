"""Naming the ends of a message once, in lab/: what the wire, the inspector, the
capture viewer and the exports call a lab node, a lab client, an outside host."""

from __future__ import annotations

from lab.capture import Capture
from lab.model import Connection, NodeInfo, NodeState, Piece, Sender, Transport
from lab.naming import Namer, by_address, host_of

NODES = {
    "s1": NodeInfo(id="s1", kind="ftp", role="server", name="FTP server #1",
                   state=NodeState.RUNNING),
    "n1": NodeInfo(id="n1", kind="ftp", role="client", name="FTP client #1",
                   state=NodeState.RUNNING),
}


def _piece(sender: Sender = Sender.CLIENT) -> Piece:
    return Piece(sender=sender, time=1.0, summary="x", raw=b"x", size=1)


def test_the_capture_tells_each_message_where_it_belongs() -> None:
    capture = Capture()
    control = capture.open(protocol="ftp", transport=Transport.TCP, client="127.0.0.1:5000",
                           server="127.0.0.1:2121", node="s1")
    before = capture.add(control, _piece())  # the client names its address later
    capture.name_endpoint("127.0.0.1:5000", "n1")
    after = capture.add(control, _piece(Sender.SERVER))
    data = capture.open(protocol="ftp-data", transport=Transport.TCP, client="127.0.0.1:5002",
                        server="127.0.0.1:40001", parent=control.id, node="s1")
    listing = capture.add(data, _piece(Sender.SERVER))
    relay = capture.open(protocol="raw", transport=Transport.TCP, client="10.0.0.9:4000",
                         server="10.0.0.1:80")
    bare = capture.add(relay, _piece())
    assert (before.node, before.client_node, before.parent) == ("s1", None, None)
    assert (after.node, after.client_node, after.parent) == ("s1", "n1", None)
    assert (listing.node, listing.client_node, listing.parent) == ("s1", "n1", control.id)
    assert (bare.node, bare.client_node, bare.parent) == (None, None, None)
    assert capture.endpoints == {"127.0.0.1:5000": "n1"}


def test_the_namer_names_nodes_and_outside_hosts() -> None:
    capture = Capture()
    control = capture.open(protocol="ftp", transport=Transport.TCP, client="127.0.0.1:5000",
                           server="127.0.0.1:2121", node="s1")
    first = capture.add(control, _piece())
    data = capture.open(protocol="ftp-data", transport=Transport.TCP, client="127.0.0.1:5002",
                        server="127.0.0.1:40001", parent=control.id, node="s1")
    listing = capture.add(data, _piece(Sender.SERVER))
    outside = capture.open(protocol="http", transport=Transport.TCP, client="10.0.0.9:4000",
                           server="10.0.0.1:80")
    curl = capture.add(outside, _piece())
    endpoints: dict[str, str] = {}
    namer = Namer(NODES, endpoints, capture.connections)
    assert namer(first, Sender.SERVER) == "FTP server #1 :2121"
    assert namer(first, Sender.CLIENT) == "outside client 127.0.0.1"  # not named yet
    endpoints["127.0.0.1:5000"] = "n1"  # named after the first message: read when asked
    assert namer(first, Sender.CLIENT) == "FTP client #1"
    assert namer(listing, Sender.CLIENT) == "FTP client #1"  # by its control connection
    assert namer(listing, Sender.SERVER) == "FTP server #1 :40001"
    assert namer(curl, Sender.CLIENT) == "outside client 10.0.0.9"
    assert by_address(curl, Sender.CLIENT) == "10.0.0.9"  # no nodes known: a bare address
    assert namer(curl, Sender.SERVER) == "10.0.0.1:80" == by_address(curl, Sender.SERVER)


def test_a_message_that_knows_its_client_node_needs_no_endpoints() -> None:
    conn = Connection(id="c1", protocol="http", transport=Transport.TCP,
                      client="127.0.0.1:5000", server="127.0.0.1:8080", opened=0.0)
    capture = Capture()
    capture.connections[conn.id] = conn
    capture.name_endpoint(conn.client, "n1")
    message = capture.add(conn, _piece())
    assert Namer(NODES, {})(message, Sender.CLIENT) == "FTP client #1"
    assert host_of("[::1]:53") == "[::1]" and host_of("lab") == "lab"
