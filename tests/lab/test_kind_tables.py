"""The server and client kind tables list every kind without importing the kinds'
modules (start-up), and each kind's module is there to import when it is used."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from lab.clients import CLIENT_KINDS, ClientKind, client_kinds
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
    module = importlib.import_module(f"lab.clients.{kind.module}")
    assert callable(getattr(module, kind.factory))
    assert callable(module.act)


@pytest.mark.parametrize("kind", SERVER_KINDS, ids=[kind.kind for kind in SERVER_KINDS])
def test_every_server_kind_names_a_starter_that_exists(kind: object) -> None:
    module, _, name = kind.start.__qualname__.rpartition(".")  # type: ignore[attr-defined]
    assert callable(getattr(importlib.import_module(module), name))


def test_the_tables_keep_the_menu_order() -> None:
    assert list(server_kinds()) == ["tcp-echo", "udp-echo", "http", "smtp", "pop3", "ftp",
                                    "ws", "dns"]
    assert list(client_kinds())[:3] == ["echo", "http", "browser"]
