"""The DNS panels through the window's own actions: a lookup panel asks the lab's DNS
server, a record added in the server panel is found by the next lookup, the inspector
pairs each response with its query, and the request composer looks its host up first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from lab.engine import Engine
from lab.model import Message, Sender
from lab.servers.dns import DnsBackend
from lab.servers.dns_guard import OVER_RATE, TRUNCATED
from tests.ui.helpers import add_panel, click, no_dialogs
from ui.engine_thread import EngineThread
from ui.mainwindow import MainWindow
from ui.panels.dns_client import DnsClientPanel
from ui.panels.dns_server import DnsServerPanel
from ui.panels.http_composer import HttpComposerPanel
from ui.panels.http_server import HttpServerPanel

WAIT = 15000


def ask(qtbot, panel: DnsClientPanel, name: str, rdtype: str = "A") -> None:  # type: ignore[no-untyped-def]
    """Type ``name``, choose ``rdtype`` and press Enter, as a user would."""
    done = panel.last_result
    panel.name_edit.setText(name)
    panel.type_combo.setCurrentText(rdtype)
    qtbot.keyClick(panel.name_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.last_result is not done, timeout=WAIT)


def values(panel: DnsClientPanel) -> list[tuple[str, str, str]]:
    model = panel.model
    return [(str(model.index(r, 0).data()), str(model.index(r, 3).data()),
             str(model.index(r, 4).data())) for r in range(model.rowCount())]


def detail(window: MainWindow) -> list[tuple[str, str]]:
    """The inspector's fields table for the selected message: (name, value) rows."""
    table = window.inspector.fields
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]


async def captured(engine: Engine, protocol: str) -> int:
    """How many ``protocol`` messages the engine's capture holds (not the lagging model)."""
    return sum(m.protocol == protocol for m in engine.capture.messages)


def messages(window: MainWindow, protocol: str) -> list[Message]:
    model = window.model
    return [model.message(r) for r in range(model.rowCount())
            if model.message(r).protocol == protocol]


def test_a_lookup_finds_the_zone_and_a_record_added_in_the_panel(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, qtmodeltester, lab: EngineThread) -> None:
    server = add_panel(window, qtbot, "server", "dns", DnsServerPanel)
    qtbot.waitUntil(lambda: "www.lab.test" in server.model.names(), timeout=WAIT)
    qtmodeltester.check(server.model)
    assert server.model.row(0) is not None and server.model.row(0).type == "SOA"
    client = add_panel(window, qtbot, "client", "dns", DnsClientPanel)
    qtbot.waitUntil(lambda: client.server_combo.address() == server.info.address,
                    timeout=WAIT)  # the running server, once the bridge has told

    ask(qtbot, client, "www.lab.test")
    assert values(client) == [("ANSWER", "A", "127.0.0.1")]
    assert client.header_text().startswith("NOERROR id ")
    assert "flags qr aa rd UDP" in client.header_text()
    assert "NOERROR" in client.header_label.text() and not client.error_text
    assert not client.retry_label.isVisible()
    qtmodeltester.check(client.model)

    # A bad record is refused in the panel, in red, and the zone stays as it was.
    before = server.model.rowCount()
    server.name_edit.setText("shop")
    server.type_combo.setCurrentText("A")
    server.value_edit.setText("300.1.2.3")
    click(qtbot, server.add_button)
    qtbot.waitUntil(lambda: "not a valid A value" in server.error_text, timeout=WAIT)
    assert server.error_label.isVisible() and server.model.rowCount() == before

    server.value_edit.setText("127.0.0.9")
    qtbot.keyClick(server.value_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: server.value_edit.text() == "", timeout=WAIT)  # taken
    qtbot.waitUntil(lambda: "shop.lab.test" in server.model.names(), timeout=WAIT)  # its state
    assert not server.error_label.isVisible()
    ask(qtbot, client, "shop.lab.test")
    assert values(client) == [("ANSWER", "A", "127.0.0.9")]

    # An edit made elsewhere (here: on the engine, as a lesson script would) shows live.
    async def add_elsewhere(engine: Engine) -> None:
        backend = engine.server_backend(server.node_id)
        assert isinstance(backend, DnsBackend)
        backend.add_record("blog", "CNAME", "www")

    lab.run(add_elsewhere, lab.engine)
    qtbot.waitUntil(lambda: "blog.lab.test" in server.model.names(), timeout=WAIT)
    qtmodeltester.check(server.model)

    # Removing it again: the next lookup gets NXDOMAIN.
    row = server.model.names().index("shop.lab.test")
    server.table.selectRow(row)
    assert server.remove_record_button.isEnabled()
    click(qtbot, server.remove_record_button)
    qtbot.waitUntil(lambda: "shop.lab.test" not in server.model.names(), timeout=WAIT)
    ask(qtbot, client, "shop.lab.test")
    assert client.header_text().startswith("NXDOMAIN")
    assert values(client)[0][:2] == ("AUTHORITY", "SOA")

    # The inspector pairs every response with its query by id.
    qtbot.waitUntil(lambda: len(messages(window, "dns")) == 6, timeout=WAIT)
    model = window.model
    for response in (m for m in messages(window, "dns") if m.sender is Sender.SERVER):
        query = model.partner(response.id)
        assert query is not None
        asked = model.message(model.row_of(query))
        assert asked.sender is Sender.CLIENT and asked.fields[0] == response.fields[0]
    query, response = messages(window, "dns")[:2]
    assert window.inspector.select_message(query.id)
    qtbot.waitUntil(lambda: ("message", f"#{query.id}") in detail(window), timeout=WAIT)
    assert ("answered by", f"#{response.id} (highlighted)") in detail(window)
    assert window.inspector.select_message(response.id)
    qtbot.waitUntil(lambda: ("message", f"#{response.id}") in detail(window), timeout=WAIT)
    assert ("answers", f"#{query.id} (highlighted)") in detail(window)
    assert no_dialogs()


def test_a_truncated_answer_is_asked_again_over_tcp(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot) -> None:
    server = add_panel(window, qtbot, "server", "dns", DnsServerPanel)
    client = add_panel(window, qtbot, "client", "dns", DnsClientPanel)
    qtbot.waitUntil(lambda: client.server_combo.address() == server.info.address,
                    timeout=WAIT)
    ask(qtbot, client, "big.lab.test", "TXT")
    assert client.retry_label.isVisible()
    assert "Retried over TCP" in client.retry_label.text()
    assert " TCP " in client.header_text() and values(client)[0][1] == "TXT"
    qtbot.waitUntil(lambda: len(messages(window, "dns")) == 4, timeout=WAIT)
    summaries = [m.summary for m in messages(window, "dns")]
    assert summaries[1].endswith("(truncated, TC)")

    client.tcp_check.setChecked(True)  # like dig +tcp: TCP from the start, no retry
    ask(qtbot, client, "www.lab.test")
    assert " TCP " in client.header_text() and not client.retry_label.isVisible()
    client.server_combo.setEditText("127.0.0.1:bad")
    ask(qtbot, client, "www.lab.test")
    assert "bad port" in client.error_text and client.error_label.isVisible()


def test_the_composer_looks_the_host_up_first(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        lab: EngineThread) -> None:
    monkeypatch.setenv("CSLAB_DATA_DIR", str(tmp_path))
    dns_server = add_panel(window, qtbot, "server", "dns", DnsServerPanel)
    http = add_panel(window, qtbot, "server", "http", HttpServerPanel)
    composer = add_panel(window, qtbot, "client", "http", HttpComposerPanel)
    assert not composer.look_up.combo.isEnabled()
    qtbot.mouseClick(composer.look_up.check, Qt.MouseButton.LeftButton)
    assert composer.look_up.combo.isEnabled()
    qtbot.waitUntil(lambda: composer.look_up.combo.address() == dns_server.info.address,
                    timeout=WAIT)
    port = http.info.address.rpartition(":")[2]
    composer.url_combo.setEditText(f"http://www.lab.test:{port}/")
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: "200" in composer.status_label.text(), timeout=WAIT)
    assert "looked up www.lab.test → 127.0.0.1" in composer.timing_label.text()
    qtbot.waitUntil(lambda: len(messages(window, "http")) == 2, timeout=WAIT)
    order = [(m.protocol, m.sender) for m in (*messages(window, "dns"), *messages(window, "http"))]
    assert order[:2] == [("dns", Sender.CLIENT), ("dns", Sender.SERVER)]
    first_http = messages(window, "http")[0]
    assert messages(window, "dns")[1].id < first_http.id  # lookup, then connect
    assert b"Host: www.lab.test:" in first_http.raw

    composer.url_combo.setEditText(f"http://www.nope.lab.test:{port}/")
    click(qtbot, composer.send_button)
    qtbot.waitUntil(lambda: "no such name" in composer.error_text, timeout=WAIT)
    assert composer.error_text == (f"www.nope.lab.test: no such name (NXDOMAIN from "
                                   f"{dns_server.info.address})")
    assert lab.run(captured, lab.engine, "http") == 2 and no_dialogs()  # no HTTP sent


def test_a_shared_dns_server_says_what_protects_it_and_what_it_turned_away(  # type: ignore[no-untyped-def]
        window: MainWindow, qtbot, lab: EngineThread) -> None:
    server = add_panel(window, qtbot, "server", "dns", DnsServerPanel)
    qtbot.waitUntil(lambda: "www.lab.test" in server.model.names(), timeout=WAIT)
    assert server.guard_label.isHidden() and server.refused_label.isHidden()

    async def turn_away(engine: Engine) -> None:  # as the guard counts them
        backend = engine.server_backend(server.node_id)
        assert isinstance(backend, DnsBackend)
        backend.refusals.count(OVER_RATE, 140)
        backend.refusals.count(TRUNCATED, 160)

    lab.run(turn_away, lab.engine)
    qtbot.waitUntil(lambda: server.refused_label.text() == (
        "Turned away: answers over the rate limit 140 · answers truncated 160"), timeout=WAIT)
    assert not server.refused_label.isHidden()

    server.show_node(replace(server.info, address="192.0.2.1:5300"))  # as when shared
    assert not server.guard_label.isHidden()
    assert "rate limited" in server.guard_label.text()
    for words in ("RFC 8482", "RFC 7873", "rate limiting", "TCP", "dig +cookie"):
        assert words in server.guard_label.toolTip()
    server.show_node(replace(server.info, address="127.0.0.1:5300"))
    assert server.guard_label.isHidden()
