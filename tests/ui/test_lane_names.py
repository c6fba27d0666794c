"""Lanes are named after what they are (issue 15): in a real window's sequence diagram,
every connection's client lane names its client panel (a lesson's role), or "outside
client 127.0.0.1" for a program that is no lab node, and an outside server keeps its
real address, never the port of the Wire in between. Real sockets throughout."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lab.model import NodeInfo, NodeState, Outcome, Sender
from lab.naming import Namer
from ui.engine_thread import EngineThread, spawn
from ui.mainwindow import MainWindow
from ui.models.messages import MessageTableModel
from ui.models.sequence import SequenceModel

WAIT = 15000
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))


async def _sync(fn: Callable[[], T]) -> T:
    return fn()


def on_engine(lab: EngineThread, fn: Callable[[], T]) -> T:
    """Run ``fn`` on the engine's thread (the wire board lives there) and return its result."""
    return lab.run(_sync, fn)


def client_lanes(diagram: SequenceModel) -> list[str]:
    return [lane.label for lane in diagram.lanes() if lane.role is Sender.CLIENT]


def server_lanes(diagram: SequenceModel) -> list[str]:
    return [lane.label for lane in diagram.lanes() if lane.role is Sender.SERVER]


def client_lane_of(diagram: SequenceModel, row: int) -> str:
    """The label of the client lane row ``row``'s arrow starts or ends at."""
    arrow = diagram.arrow(row)
    assert arrow is not None
    index = arrow.start if arrow.message.sender is Sender.CLIENT else arrow.end
    return diagram.lanes()[index].label


def act(window: MainWindow, qtbot, node: str, verb: str,  # type: ignore[no-untyped-def]
        *args: str, **settings: Any) -> Any:
    """A client's action run through the engine, as a lesson step does; the task."""
    engine = window.lab.engine
    task = spawn(window.lab.call(engine.client_act, node, verb, list(args),
                                 settings=settings or None))
    return task


def add_client(window: MainWindow, qtbot, kind: str, name: str,  # type: ignore[no-untyped-def]
               **settings: str) -> NodeInfo:
    task = spawn(window.lab.call(window.lab.engine.add_client, kind, name=name,
                                 settings=settings))
    qtbot.waitUntil(task.done, timeout=WAIT)
    info: NodeInfo = task.result()
    qtbot.waitUntil(lambda: info.id in window.bridge.nodes, timeout=WAIT)
    return info


def running_http(window: MainWindow, qtbot) -> NodeInfo:  # type: ignore[no-untyped-def]
    task = spawn(window.lab.call(window.lab.engine.add_server, "http", port=0,
                                 name="Web server"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    info: NodeInfo = task.result()
    qtbot.waitUntil(lambda: (n := window.bridge.nodes.get(info.id)) is not None
                    and n.state is NodeState.RUNNING, timeout=WAIT)
    return window.bridge.nodes[info.id]


def test_lesson_9s_reset_connections_are_drawn_from_the_client_that_made_them(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    lessons = window.lessons
    task = spawn(lessons.open("09-misbehaving-network"))
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result() is True
    for number in (1, 2, 3):  # the third step resets each new connection at message 1
        lessons.next_action.trigger()
        qtbot.waitUntil(lambda n=number: len(lessons.results) == n, timeout=30000)
        assert lessons.results[-1].passed
    diagram = window.diagram
    resets: list[int] = []

    def reset_rows() -> list[int]:
        resets[:] = [row for row in range(diagram.row_count())
                     if (m := diagram.message(row)) is not None and m.injected
                     and "reset the connection" in m.summary]
        return resets

    qtbot.waitUntil(lambda: len(reset_rows()) >= 2, timeout=WAIT)  # it tried twice
    assert {client_lane_of(diagram, row) for row in resets} == {"A second composer"}
    assert client_lanes(diagram) == ["Request composer", "A second composer"]
    assert all(name.startswith("Web server :") for name in server_lanes(diagram))


def test_a_browsers_new_connections_in_step_mode_name_the_browser(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    server = running_http(window, qtbot)
    browser = add_client(window, qtbot, "browser", "Ann's browser", server=server.address)
    board = window.lab.engine.wire_board
    on_engine(window.lab, lambda: board.set_step(None, True))
    task = act(window, qtbot, browser.id, "open", "/")
    seen: list[list[str]] = []  # the client lanes whenever something was held

    def step_on() -> bool:
        held = on_engine(window.lab, lambda: board.held(None))
        if held:
            # What is held is captured, so it is in the diagram with its lanes.
            qtbot.waitUntil(lambda: diagram_has(window.diagram, held[0].id), timeout=WAIT)
            seen.append(client_lanes(window.diagram))
            on_engine(window.lab, lambda: board.forward(held[0].id))
        return task.done()

    qtbot.waitUntil(step_on, timeout=60000)
    on_engine(window.lab, lambda: board.set_step(None, False))
    outcome: Outcome = task.result()
    assert outcome.ok, outcome.shown
    assert len(window.lab.engine.capture.connections) >= 2  # the page and its pictures
    assert seen and all(lanes == ["Ann's browser"] for lanes in seen), seen
    qtbot.waitUntil(lambda: client_lanes(window.diagram) == ["Ann's browser"], timeout=WAIT)


def diagram_has(diagram: SequenceModel, message_id: int) -> bool:
    return diagram.row_of(message_id) is not None and bool(diagram.lanes())


@pytest.fixture
def outside_site(tmp_path: Path) -> Iterator[int]:
    """``python3 -m http.server`` as a test can run it: a real server on 127.0.0.1 the
    lab does not run (standing in for one on :8080); its port."""
    (tmp_path / "index.html").write_text("<html><body>outside</body></html>")

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site.server_address[1]
    finally:
        site.shutdown()
        site.server_close()


def test_an_outside_server_keeps_its_real_address(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, outside_site: int) -> None:
    address = f"127.0.0.1:{outside_site}"
    composer = add_client(window, qtbot, "http", "Composer", server=address)
    task = act(window, qtbot, composer.id, "get", "/index.html")
    qtbot.waitUntil(task.done, timeout=WAIT)
    assert task.result().values.get("status") == 200, task.result().shown
    qtbot.waitUntil(lambda: window.diagram.row_count() >= 2, timeout=WAIT)
    assert server_lanes(window.diagram) == [address]  # not the outbound Wire's port
    assert client_lanes(window.diagram) == ["Composer"]
    [lane] = [lane for lane in window.diagram.lanes() if lane.role is Sender.SERVER]
    assert lane.address == address


def test_a_program_that_is_no_lab_node_is_an_outside_client(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    server = running_http(window, qtbot)
    answers: list[int] = []

    def fetch() -> None:  # curl, in a thread: a client the lab does not run
        with urllib.request.urlopen(f"http://{server.address}/", timeout=10) as response:
            answers.append(response.status)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    qtbot.waitUntil(lambda: bool(answers) and window.diagram.row_count() >= 2, timeout=WAIT)
    thread.join(5)
    assert answers == [200]
    assert client_lanes(window.diagram) == ["outside client 127.0.0.1"]
    assert server_lanes(window.diagram) == [f"Web server :{server.address.rpartition(':')[2]}"]


def test_an_outside_client_lane_is_named_again_when_a_lab_client_claims_it(  # type: ignore[no-untyped-def]
        qapp, make_message) -> None:
    """A connection drawn as an outside client before its lab client said its address
    (a client made outside the engine's routing) is named again, that one only."""
    nodes = {"k1": NodeInfo(id="k1", kind="http", role="client", name="Composer",
                            state=NodeState.RUNNING)}
    endpoints: dict[str, str] = {}
    model = MessageTableModel()
    seq = SequenceModel(model, Namer(nodes, endpoints))
    model.append([replace(make_message(1, "GET /", connection="c1"), client="127.0.0.1:5000"),
                  replace(make_message(2, "GET /", connection="c2"), client="127.0.0.1:5001")])
    assert client_lanes(seq) == ["outside client 127.0.0.1"]
    endpoints["127.0.0.1:5000"] = "k1"
    seq.rename({"127.0.0.1:5000": "k1"})
    assert client_lanes(seq) == ["Composer", "outside client 127.0.0.1"]
