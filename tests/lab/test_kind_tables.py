"""The kind table (lab/kinds.py) and its server and client views list every kind
without importing the kinds' modules (start-up), and each kind's module is there to
import when it is used."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from lab import dissect, kinds
from lab.clients import CLIENT_KINDS, ClientKind, client_kinds
from lab.explain_notes import notes_dir
from lab.scenario import actions
from lab.servers import SERVER_KINDS, server_kinds

HEAVY = ("aiohttp", "aiosmtpd", "aioftp", "websockets", "dns.message", "lab.servers.http",
         "lab.clients.http")


def test_listing_the_kinds_imports_none_of_their_libraries() -> None:
    code = ("import sys\n"
            "from lab.servers import server_kinds\n"
            "from lab.clients import client_kinds\n"
            "kinds = [*server_kinds(), *client_kinds()]\n"
            f"print(len(kinds), [m for m in {HEAVY!r} if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split(" ", 1)
    assert int(out[0]) == len(SERVER_KINDS) + len(CLIENT_KINDS)
    assert out[1].strip() == "[]"


@pytest.mark.parametrize("kind", CLIENT_KINDS, ids=[kind.kind for kind in CLIENT_KINDS])
def test_every_client_kind_names_a_factory_and_actions_that_exist(kind: ClientKind) -> None:
    module = importlib.import_module(kind.module)
    assert callable(getattr(module, kind.factory))
    assert callable(importlib.import_module(kind.actions or kind.module).act)
    assert kind.act is importlib.import_module(kind.actions or kind.module).act


@pytest.mark.parametrize("kind", SERVER_KINDS, ids=[kind.kind for kind in SERVER_KINDS])
def test_every_server_kind_names_a_starter_that_exists(kind: object) -> None:
    module, _, name = kind.start.__qualname__.rpartition(".")  # type: ignore[attr-defined]
    assert callable(getattr(importlib.import_module(module), name))


def test_the_tables_keep_the_menu_order() -> None:
    assert list(server_kinds()) == ["tcp-echo", "udp-echo", "http", "smtp", "pop3", "ftp",
                                    "ws", "dns"]
    assert list(client_kinds())[:3] == ["echo", "http", "browser"]


@pytest.mark.parametrize("row", kinds.kinds(), ids=[row.name for row in kinds.kinds()])
def test_every_row_names_modules_and_notes_that_exist(row: kinds.Kind) -> None:
    for module in row.dissectors:
        importlib.import_module(module)
    assert row.dissector in dissect.protocols() or not row.dissectors
    for name in row.explain:
        assert (notes_dir() / name).is_file()
    if row.server is not None and row.server.live:
        importlib.import_module(row.server.live)
    if row.client is not None:
        assert set(row.client.verbs) <= set(actions().get(row.name, {}))
        assert all(fit in server_kinds() for fit in kinds.fits(row.name))


def test_a_registered_kind_shows_in_every_view_and_goes_again() -> None:
    row = kinds.Kind("extra", dissectors=("no.such.module",),
                     server=kinds.ServerSide("Extra server", "no.such:start", default_port=9),
                     client=kinds.ClientSide("Extra client", "no.such:Client", {"server": ""},
                                             {"poke": ()}))
    kinds.register(row)  # imports nothing: the modules need not exist until used
    try:
        assert list(server_kinds())[-1] == "extra" and "extra" in client_kinds()
        assert actions()["extra"] == {"poke": ()}
        assert client_kinds()["extra"].module == "no.such"
    finally:
        kinds.unregister("extra")
    assert "extra" not in server_kinds() and "no.such.module" not in kinds.dissector_modules()
