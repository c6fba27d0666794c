"""A load run against a lab HTTP server: per-second samples, exact counts, a bounded run."""

from __future__ import annotations

import asyncio
import time

import pytest

from lab.clients.load import LoadView
from lab.engine import Engine
from lab.load import LoadRun, LoadSample, percentile
from lab.model import ClientChanged, ConnectionOpened, EndpointNamed, MessageCaptured
from tests.lab.helpers import run


def test_twenty_http_clients_for_two_seconds() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("http", port=0)
            seen: list[LoadSample] = []
            load = LoadRun(engine.route, server.address, clients=20, seconds=2,
                           on_sample=seen.append)
            began = time.monotonic()
            summary = await load.run()
            took = time.monotonic() - began
            assert took < 2 + 3
            assert len(seen) >= 2
            assert [s.second for s in seen[:2]] == [1, 2]
            assert seen[0].requests > 0 and seen[0].p50 > 0
            assert seen[0].p50 <= seen[0].p90 <= seen[0].p99
            assert summary.requests > 0 and summary.errors == 0
            assert summary.requests == sum(s.requests for s in seen)
        finally:
            await engine.shutdown()

    run(main)


def test_tcp_echo_load_and_cancel() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("tcp-echo", port=0)
            load = LoadRun(engine.route, server.address, kind="tcp", clients=5, seconds=30)
            task = load.start()
            await asyncio.sleep(0.5)
            load.cancel()
            summary = await asyncio.wait_for(task, 5)
            assert summary.requests > 0 and summary.errors == 0
        finally:
            await engine.shutdown()

    run(main)


def test_bounds_and_percentile() -> None:
    async def nowhere(*args: object) -> tuple[str, int]:
        return "127.0.0.1", 1

    with pytest.raises(ValueError):
        LoadRun(nowhere, "127.0.0.1:80", clients=501)
    with pytest.raises(ValueError):
        LoadRun(nowhere, "127.0.0.1:80", seconds=61)
    assert percentile([], 50) == 0
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile(list(range(1, 101)), 99) == 99


def _named_before_first_message(kind: str, server_kind: str) -> None:
    """A run names each client's local address before that connection's first message
    reaches the capture, and every captured connection is one of them."""

    async def main() -> None:
        engine = Engine()
        events: list[object] = []
        engine.capture.subscribe(events.append)
        try:
            server = await engine.add_server(server_kind, port=0)
            load = LoadRun(engine.route, server.address, kind=kind, clients=8, seconds=1,
                           seen=lambda address: engine.name_endpoint("k-load", address))
            summary = await load.run()
            assert summary.requests > 0 and summary.errors == 0
        finally:
            await engine.shutdown()
        named: set[str] = set()
        clients: set[str] = set()
        unnamed = 0
        for event in events:
            if isinstance(event, EndpointNamed):
                named.add(event.address)
            elif isinstance(event, MessageCaptured):
                unnamed += event.message.client not in named
            elif isinstance(event, ConnectionOpened):
                clients.add(event.connection.client)
        assert unnamed == 0
        assert clients and clients == named == load.endpoints
        assert len(named) >= 8

    run(main)


def test_http_load_names_its_connections_first() -> None:
    _named_before_first_message("http", "http")


def test_tcp_load_names_its_connections_first() -> None:
    _named_before_first_message("tcp", "tcp-echo")


def test_the_load_client_shows_its_run_as_states() -> None:
    """``start`` returns at once; the run's samples come as LoadViews (throttled) and
    its end with the summary; ``stop`` ends a long run early."""

    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("http", port=0)
            client = await engine.add_client("load", settings={"server": server.address})
            views: list[LoadView] = []
            engine.capture.subscribe(lambda e: views.append(e.state.view) if isinstance(
                e, ClientChanged) and isinstance(e.state.view, LoadView) else None)
            began = time.monotonic()
            started = await engine.client_act(client.id, "start", settings={
                "clients": "5", "seconds": "2", "path": "/", "kind": "http"})
            assert started.ok and time.monotonic() - began < 2
            assert engine.client_state(client.id).view.running
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while engine.client_state(client.id).view.summary is None:
                assert loop.time() < deadline, "the run never ended"
                await asyncio.sleep(0.05)
            last = engine.client_state(client.id).view
            assert not last.running and last.clients == 5 and last.samples
            assert last.summary.requests == sum(s.requests for s in last.samples) > 0
            assert last.endpoints and len(last.endpoints) <= 5
            assert any(v.samples and v.summary is None for v in views)  # progress came

            await engine.client_act(client.id, "start", settings={"seconds": "30"})
            await asyncio.sleep(0.5)
            stopped = await asyncio.wait_for(engine.client_act(client.id, "stop"), 10)
            assert stopped.ok
            view = engine.client_state(client.id).view
            assert not view.running and view.summary is not None and view.summary.seconds < 5

            refused = await engine.client_act(client.id, "start", settings={"clients": "0"})
            assert not refused.ok and "clients must be" in refused.shown
        finally:
            await engine.shutdown()

    run(main)
