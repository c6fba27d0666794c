"""A kind defined only in the test suite (tests/qotd, tests/kinds_fixture.py) with a
panel defined here: it is in the + Server and + Client menus, its panels show, its
client's quote shows in its panel, and its messages show in the inspector with its
dissector's summaries and its own explanation. Adding it took one row in lab/kinds.py
and one entry in ui/panels (both registered by the test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab import kinds
from lab.model import Sender
from tests.qotd.panels import QotdClientPanel, QotdServerPanel
from tests.ui.helpers import WAIT, add_panel
from ui.engine_thread import spawn
from ui.mainwindow import MainWindow
from ui.panels import CLIENT_PANELS, SERVER_PANELS, Panel, register_panel

PANELS = "tests.qotd.panels"


@pytest.fixture(autouse=True)
def qotd() -> Iterator[kinds.Kind]:
    """The qotd row and its panels, for this test only (before the window is made)."""
    from tests.kinds_fixture import QOTD

    kinds.register(QOTD)
    register_panel("server", "qotd", Panel(f"{PANELS}:QotdServerPanel"))
    register_panel("client", "qotd", Panel(f"{PANELS}:QotdClientPanel", "Ctrl+Shift+Q"))
    yield QOTD
    SERVER_PANELS.pop("qotd", None)
    CLIENT_PANELS.pop("qotd", None)
    kinds.unregister(QOTD.name)


def test_the_kind_is_in_the_menus_and_its_messages_are_explained(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    server_action = window.server_actions["qotd"]
    client_action = window.client_actions["qotd"]
    assert server_action.text() == "Quote of the day server"
    assert "1717" in server_action.toolTip() and "a quote for each QUOTE line" in \
        server_action.toolTip()
    assert client_action.toolTip() == "Add a quote of the day client: ask for a quote of the day"
    assert client_action.shortcut().toString() == "Ctrl+Shift+Q"

    server = add_panel(window, qtbot, "server", "qotd", QotdServerPanel)
    client = add_panel(window, qtbot, "client", "qotd", QotdClientPanel)
    spawn(client.act("quote", "3", server=server.info.address))
    qtbot.waitUntil(lambda: client.quote.text() == "200 Errors should never pass silently.",
                    timeout=WAIT)

    model = window.model
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=WAIT)
    rows = [model.message(r) for r in range(model.rowCount())]
    assert [(m.protocol, m.summary) for m in rows] == [
        ("qotd", "asks for quote 3"), ("qotd", "quote: Errors should never pass silently.")]
    reply = next(m for m in rows if m.sender is Sender.SERVER)
    assert window.inspector.select_message(reply.id)
    assert window.inspector.explain.meaning_text() == \
        "Here is the quote: Errors should never pass silently."
