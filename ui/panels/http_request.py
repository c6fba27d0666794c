"""What the request composer sends: the form as typed, its body encoded by mode,
and the coroutine that sends it on the engine's loop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from lab.clients.http import HttpClient, HttpResult
from lab.engine import Engine

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MODES = ("raw", "JSON", "form")
MODE_TYPES = {"JSON": "application/json", "form": "application/x-www-form-urlencoded"}

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class SentRequest:
    """What the user sent, as typed: enough to fill the form again."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str
    mode: str


def encode_body(text: str, mode: str) -> tuple[bytes | None, str]:
    """The bytes to send for ``text`` in ``mode`` and the Content-Type it implies.

    JSON must parse (ValueError says where it does not); form takes ``key=value``
    lines; an empty body is None (no body at all)."""
    if not text.strip():
        return None, ""
    if mode == "JSON":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}. Nothing was sent.") from None
    elif mode == "form":
        pairs = []
        for line in text.splitlines():
            if line.strip():
                key, _, value = line.partition("=")
                pairs.append((key.strip(), value.strip()))
        return urlencode(pairs).encode(), MODE_TYPES[mode]
    return text.encode("utf-8"), MODE_TYPES.get(mode, "")


async def send_on_engine(engine: Engine, node_id: str, method: str, url: str,
                         headers: Headers, body: bytes | None,
                         dns_server: str | None = None) -> HttpResult:
    """Runs on the engine's loop: the node's HttpClient sends one request (looking the
    host up at ``dns_server`` first, when given)."""
    client = engine.client_object(node_id)
    assert isinstance(client, HttpClient)
    return await client.request(method, url, headers, body, dns_server=dns_server)
