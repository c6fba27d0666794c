"""The sequence diagram: lanes and arrows from the messages (named, ordered, filtered
with the inspector), and the view over them: selection both ways, keys, export,
100,000 messages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from lab.model import Message, Sender
from lab.naming import host_of
from tests.ui.demo_conversations import conversations, http_conversation
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.models.messages import MESSAGE_ROLE, MessageFilterProxy, MessageTableModel
from ui.models.sequence import SequenceModel
from ui.views.sequence_export import describe

NAMES = {"127.0.0.1:50000": "HTTP client #1", "127.0.0.1:51000": "Mail composer #1",
         "127.0.0.1:8080": "HTTP server #1 :8080", "127.0.0.1:2525": "SMTP server #1 :2525"}


def message(make_message, n: int, summary: str, connection: str, sender: Sender,  # type: ignore[no-untyped-def]
            client: str, server: str, **flags: object) -> Message:
    return replace(make_message(n, summary, connection=connection, sender=sender),
                   client=client, server=server, **flags)


def conversation(make_message) -> list[Message]:  # type: ignore[no-untyped-def]
    """HTTP on c1, SMTP on c2, an outside client on c3, a DNS lookup on c4 (UDP)."""
    c, s = Sender.CLIENT, Sender.SERVER
    http = ("127.0.0.1:50000", "127.0.0.1:8080")
    mail = ("127.0.0.1:51000", "127.0.0.1:2525")
    return [message(make_message, 1, "GET /", "c1", c, *http),
            message(make_message, 2, "200 OK", "c1", s, *http),
            message(make_message, 3, "220 lab.test ESMTP", "c2", s, *mail),
            message(make_message, 4, "EHLO client.lab.test", "c2", c, *mail),
            message(make_message, 5, "GET /x", "c3", c, "10.0.0.9:40000", "127.0.0.1:8080"),
            message(make_message, 6, "Query A www.lab.test", "c4", c,
                    "127.0.0.1:50000", "127.0.0.1:5300"),
            message(make_message, 7, "Answer www.lab.test A 127.0.0.1", "c4", s,
                    "127.0.0.1:50000", "127.0.0.1:5300")]


class Namer:
    """Names as the window gives them (an unknown client by its host); counts how
    often it was asked."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.calls = 0
        self.names = NAMES if names is None else names

    def __call__(self, message: Message, side: Sender) -> str:
        self.calls += 1
        if side is Sender.CLIENT:
            return self.names.get(message.client, host_of(message.client))
        return self.names.get(message.server, message.server)


def diagram(qapp, **kwargs: object) -> tuple[MessageTableModel, MessageFilterProxy, SequenceModel]:  # type: ignore[no-untyped-def]
    model = MessageTableModel()
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    return model, proxy, SequenceModel(proxy, **kwargs)  # type: ignore[arg-type]


def labels(seq: SequenceModel) -> list[str]:
    return [f"{lane.role.value}: {lane.label}" for lane in seq.lanes()]


def test_lanes_are_named_clients_left_servers_right_in_order_of_appearance(  # type: ignore[no-untyped-def]
        qapp, make_message) -> None:
    model, _, seq = diagram(qapp, namer=Namer())
    model.append(conversation(make_message))
    assert labels(seq) == ["client: HTTP client #1", "client: Mail composer #1",
                           "client: 10.0.0.9", "server: HTTP server #1 :8080",
                           "server: SMTP server #1 :2525", "server: 127.0.0.1:5300"]
    get, ok, banner, ehlo = (seq.arrow(r) for r in range(4))
    assert get and ok and banner and ehlo
    assert (get.start, get.end) == (0, 3)  # client → server
    assert (ok.start, ok.end) == (3, 0)  # and back
    assert (banner.start, banner.end) == (4, 1) and (ehlo.start, ehlo.end) == (1, 4)
    query, answer = seq.arrow(5), seq.arrow(6)
    assert query and answer and (query.start, query.end) == (0, 5)  # DNS: just arrows
    assert (answer.start, answer.end) == (5, 0)
    assert seq.arrow(7) is None and seq.row_count() == 7
    assert "HTTP client #1 → HTTP server #1 :8080" in describe(get, seq.lanes())


def outside(make_message, count: int, host: str = "10.0.0.9") -> list[Message]:  # type: ignore[no-untyped-def]
    """``count`` connections (a request each) from new ports of one outside host."""
    return [message(make_message, n, "GET /", f"o{n}", Sender.CLIENT, f"{host}:{40000 + n}",
                    "127.0.0.1:8080") for n in range(1, count + 1)]


def test_an_outside_host_gets_one_lane_however_many_connections(  # type: ignore[no-untyped-def]
        qapp, make_message, window: MainWindow) -> None:
    """100 curl runs from one host: one client lane; the window (which knows the lab's
    nodes) says it is an outside client."""
    model, _, seq = diagram(qapp)
    model.append(outside(make_message, 100))
    assert labels(seq) == ["client: 10.0.0.9", "server: 127.0.0.1:8080"]
    window.model.append(outside(make_message, 100))
    assert labels(window.diagram) == ["client: outside client 10.0.0.9",
                                      "server: 127.0.0.1:8080"]
    assert window.inspector.proxy.index(99, 0).data(MESSAGE_ROLE).client == "10.0.0.9:40100"


def test_renaming_an_address_names_again_only_its_connections(  # type: ignore[no-untyped-def]
        qapp, make_message) -> None:
    """A lab client reports its address after its first message: naming it costs its
    connections (and their data connections), not all of them."""
    names: dict[str, str] = {}
    namer = Namer(names)
    model, _, seq = diagram(qapp, namer=namer)
    lab = ("127.0.0.1:50000", "127.0.0.1:2121")
    model.append([*outside(make_message, 1000),
                  message(make_message, 1001, "PASV", "lab", Sender.CLIENT, *lab),
                  message(make_message, 1002, "LIST", "d1", Sender.SERVER,
                          "127.0.0.1:50002", "127.0.0.1:40001", parent="lab")])
    assert labels(seq)[:2] == ["client: 10.0.0.9", "client: 127.0.0.1"]
    calls = namer.calls
    names["127.0.0.1:50000"] = "FTP client #1"
    seq.rename({"127.0.0.1:50000": "node-1"})
    assert labels(seq)[:2] == ["client: 10.0.0.9", "client: FTP client #1"]
    assert namer.calls - calls == 2  # the one connection, both its ends
    data = seq.arrow(1001)
    assert data and data.data and seq.lanes()[data.end].label == "FTP client #1"
    seq.rename({"10.9.9.9:1": "nobody"})  # no connection of it: nothing to do
    assert namer.calls - calls == 2


def test_marks_faults_and_malformed(qapp, make_message) -> None:  # type: ignore[no-untyped-def]
    closed: set[str] = set()
    model, _, seq = diagram(qapp, closed=closed.__contains__)
    first = conversation(make_message)[:2]
    model.append([*first, replace(make_message(3, "bad"), connection="c1", malformed=True),
                  replace(make_message(4, "Wire rewrote 227"), connection="c1", injected=True)])
    arrows = [seq.arrow(r) for r in range(4)]
    assert [a.opens for a in arrows if a] == [True, False, False, False]
    assert not any(a.closes for a in arrows if a)
    closed.add("c1")
    last = seq.arrow(3)
    assert last and last.closes and last.fault and not last.message.malformed
    bad = seq.arrow(2)
    assert bad and bad.message.malformed and not bad.fault



def test_the_wires_ftp_rewrite_note_is_no_fault(qapp, make_message) -> None:  # type: ignore[no-untyped-def]
    """A NAT helper's rewrite of a PORT line is the Wire's everyday work, drawn as a note,
    not red; a reset is a fault."""
    model, _, seq = diagram(qapp)
    rewrite = replace(make_message(1, "Wire rewrote PORT: a → b"), injected=True,
                      fields=(("wire", "Wire rewrote PORT: a → b"),
                              ("sent to the server", "PORT 127,0,0,1,1,2")))
    reset = replace(make_message(2, "Wire reset the connection at message 1"), injected=True)
    model.append([rewrite, reset])
    assert [a.fault for a in (seq.arrow(0), seq.arrow(1)) if a] == [False, True]


def test_ftp_data_connections_run_between_their_control_lanes(qapp, make_message) -> None:  # type: ignore[no-untyped-def]
    model, _, seq = diagram(qapp, namer=Namer())
    control = ("127.0.0.1:50000", "127.0.0.1:2121")
    model.append([message(make_message, 1, "PASV", "c1", Sender.CLIENT, *control),
                  message(make_message, 2, "227 Entering Passive Mode", "c1",
                          Sender.SERVER, *control),
                  message(make_message, 3, "LIST: 3 entries", "c2", Sender.SERVER,
                          "127.0.0.1:50002", "127.0.0.1:40001", parent="c1")])
    assert labels(seq) == ["client: HTTP client #1", "server: 127.0.0.1:2121"]
    data = seq.arrow(2)
    assert data and data.data and (data.start, data.end) == (1, 0)
    control_arrow = seq.arrow(0)
    assert control_arrow and not control_arrow.data


def test_the_inspector_filter_filters_the_diagram(qapp, make_message) -> None:  # type: ignore[no-untyped-def]
    namer = Namer()
    model, proxy, seq = diagram(qapp, namer=namer)
    model.append(conversation(make_message))
    assert seq.row_count() == 7 and len(seq.lanes()) == 6
    proxy.set_filter_text("smtp server")  # nothing
    assert seq.row_count() == 0 and seq.lanes() == []
    proxy.set_filter_text("EHLO")
    assert seq.row_count() == 1 and labels(seq) == ["client: Mail composer #1",
                                                    "server: SMTP server #1 :2525"]
    arrow = seq.arrow(0)
    assert arrow and arrow.message.summary == "EHLO client.lab.test"
    assert not arrow.opens  # the connection began before, with the banner
    model.append([message(make_message, 8, "EHLO again", "c5", Sender.CLIENT,
                          "127.0.0.1:50000", "127.0.0.1:2525")])  # while filtered
    assert seq.row_count() == 2 and labels(seq)[0] == "client: Mail composer #1"
    assert seq.row_of(8) == 1 and seq.row_of(1) is None
    proxy.set_filter_text("")
    assert seq.row_count() == 8 and len(seq.lanes()) == 6
    assert namer.calls == 2 * 5  # named once per connection, never per message or filter


def test_partner_rows_pair_requests_and_responses(qapp, make_message) -> None:  # type: ignore[no-untyped-def]
    model, _, seq = diagram(qapp)
    messages = conversation(make_message)[:2]
    model.append([replace(messages[0], protocol="http", fields=(("method", "GET"),)),
                  replace(messages[1], protocol="http", fields=(("status", 200),))])
    assert seq.partner_row(0) == 1 and seq.partner_row(1) == 0


# ---- in the window, with real traffic -----------------------------------------------------

def play(qtbot, coroutine) -> None:  # type: ignore[no-untyped-def]
    task = spawn(coroutine)
    qtbot.waitUntil(task.done, timeout=30_000)
    assert task.exception() is None, task.exception()


def row_of(window: MainWindow, summary: str) -> int:
    seq = window.diagram
    return next(r for r in range(seq.row_count())
                if (m := seq.message(r)) is not None and m.summary.startswith(summary))


def test_selection_and_filter_follow_the_inspector_both_ways(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    assert window.wire_hint.isVisible()
    play(qtbot, http_conversation(window))
    qtbot.waitUntil(lambda: window.model.rowCount() == len(window.lab.engine.capture.messages))
    assert not window.wire_hint.isVisible()
    wire, seq, inspector = window.wire, window.diagram, window.inspector
    assert wire.model().rowCount() == window.model.rowCount()
    port = window.servers.panels()[0].info.address.rpartition(":")[2]
    assert labels(seq) == ["client: Mini browser #1", "client: Request composer #1",
                           f"server: HTTP server #1 :{port}"]

    # diagram → inspector: a click selects the row there, and shows its partner
    post = row_of(window, "POST /api/notes")
    wire.scroll_to_row(post)
    qtbot.mouseClick(wire.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(wire.viewport().width() // 2,
                                wire.row_y(post) + wire.diagram_layout().row_height // 2))
    selected = inspector.selected_message()
    assert selected is not None and selected.summary == "POST /api/notes"
    answer = row_of(window, "201 Created")
    assert wire.marks().partner == answer and wire.current_row() == post
    # hovering the reply explains it, knowing what it answers
    from ui.views.explain import explain_text
    created, request = seq.message(answer), seq.message(post)
    assert created is not None and seq.answering(created) == request
    note = explain_text(created, request)
    assert note and wire.tooltip(answer).endswith("\n\n" + note)
    qtbot.mouseClick(wire.viewport(), Qt.MouseButton.LeftButton,  # a range, for export
                     Qt.KeyboardModifier.ShiftModifier,
                     QPoint(20, wire.row_y(answer) + wire.painter.row_height // 2))
    assert wire.selected_range() == (post, answer) and wire.export_rows("range.png") == (
        post, answer)

    # inspector → diagram: the diagram selects the row and scrolls to it
    first = seq.message(0)
    assert first is not None and first.summary.startswith("GET /")
    wire.verticalScrollBar().setValue(wire.verticalScrollBar().maximum())
    assert inspector.select_message(first.id)
    assert wire.current_row() == 0 and wire.verticalScrollBar().value() == 0

    # the inspector's filter filters the diagram, its lanes too
    inspector.filter_edit.setText("notes")
    assert seq.row_count() == inspector.proxy.rowCount() == 1
    assert labels(seq) == ["client: Request composer #1", f"server: HTTP server #1 :{port}"]
    inspector.filter_edit.clear()
    assert seq.row_count() == window.model.rowCount() and len(seq.lanes()) == 3


def test_the_demo_conversations_draw_ftp_data_between_the_ftp_lanes(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "down").mkdir()
    play(qtbot, conversations(window, tmp_path / "down"))
    seq = window.diagram
    names = [label.split(": ")[1].rpartition(" :")[0] or label.split(": ")[1]
             for label in labels(seq)]
    assert names == ["Mini browser #1", "Request composer #1", "Mail composer #1",
                     "FTP client #1", "HTTP server #1", "SMTP server #1", "FTP server #1"]
    arrows = [a for r in range(seq.row_count()) if (a := seq.arrow(r)) is not None]
    data = [a for a in arrows if a.data]
    assert data and all({a.start, a.end} == {3, 6} for a in data)  # FTP client ⟷ server
    assert any(a.message.summary.startswith("RETR README.txt") for a in data)
    assert [a.message.summary for a in arrows if a.opens][:1] == ["GET /"]
    window.bridge.drain()
    assert any(a.closes for r in range(seq.row_count()) if (a := seq.arrow(r)))
