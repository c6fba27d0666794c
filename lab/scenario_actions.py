"""A scenario step's action, performed with a lab client's real async API.

One function per client kind: it takes the step's verb and arguments and returns an
``Outcome`` (what came back, for a person, and the values expectations check).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.clients.browser import Browser
from lab.clients.dns import DnsClient
from lab.clients.ftp import FtpClient, FtpClientError
from lab.clients.http import HttpClient
from lab.clients.pop3 import MailReader, Pop3Error
from lab.clients.smtp import MailSender
from lab.clients.ws import ChatClient, ChatError
from lab.engine import Engine, EngineError
from lab.model import parse_address
from lab.scenario import ClientSpec, Step

#: How long a chat client waits for the room to echo what it said.
CHAT_WAIT = 2.0
TEXT_LIMIT = 400


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a step's action got back: ``shown`` for a person; ``values`` for the
    expectations (ok, status, reply, rcode, and ``text`` for ``contains``)."""

    shown: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClientState:
    """A scenario client on the engine: its node, the address it talks to, its options."""

    spec: ClientSpec
    node_id: str
    server: str  # "host:port" of the client's server
    addresses: dict[str, str]  # every server's address, by scenario name
    engine: Engine
    connected: bool = False
    location: str = ""  # the last Location header an HTTP client got, for ``{location}``
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cslab-run-")))

    def obj(self) -> Any:
        return self.engine.client_object(self.node_id)

    def option(self, name: str, default: str = "") -> str:
        return self.spec.options.get(name, default)


def _failed(text: str) -> Outcome:
    return Outcome(text, {"ok": False, "text": text})


def _short(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "…"


def _url(state: ClientState, path: str) -> str:
    host = state.option("host")
    if host:
        return f"http://{host}:{parse_address(state.server)[1]}{path}"
    return f"http://{state.server}{path}"


async def _http(state: ClientState, step: Step) -> Outcome:
    client: HttpClient = state.obj()
    path = step.args[0].replace("{location}", state.location)
    body = step.args[1].encode() if len(step.args) > 1 else None
    headers = [("Content-Type", "application/json")] if body and body[:1] in b"{[" else []
    dns = state.addresses.get(state.option("dns"), state.option("dns")) or None
    result = await client.request(step.verb.upper(), _url(state, path), headers, body,
                                  dns_server=dns)
    if result.error:
        return _failed(result.error)
    text = result.body.decode("utf-8", "replace")
    state.location = next((v for k, v in result.headers if k.lower() == "location"),
                          state.location)
    looked = f"{result.resolved}; " if result.resolved else ""
    return Outcome(f"{looked}{result.status} {result.reason} ({result.size} bytes)",
                   {"ok": True, "status": result.status, "text": text})


async def _browser(state: ClientState, step: Step) -> Outcome:
    browser: Browser = state.obj()
    page = await browser.load(_url(state, step.args[0]))
    doc = page.document
    if doc.error:
        return _failed(doc.error)
    statuses = ", ".join(str(r.status or r.error) for r in page.resources)
    shown = f"{doc.status} {doc.reason} “{page.title}”: {page.requests} requests"
    return Outcome(shown + (f" (resources: {statuses})" if statuses else ""),
                   {"ok": True, "status": doc.status,
                    "text": doc.body.decode("utf-8", "replace")})


async def _smtp(state: ClientState, step: Step) -> Outcome:
    sender: MailSender = state.obj()
    result = await sender.send(state.server, state.option("from", "ann@lab.test"),
                               [state.option("to", "bob@lab.test")],
                               state.option("subject", "Hello from the lab"),
                               state.option("body", "Hello!"))
    if not result.ok:
        return _failed(result.error or result.reply)
    code = result.reply[:3]
    return Outcome(result.reply, {"ok": True, "text": result.reply,
                                  "reply": int(code) if code.isdigit() else result.reply})


async def _pop3(state: ClientState, step: Step) -> Outcome:
    reader: MailReader = state.obj()
    try:
        if not reader.is_open:
            await reader.open(state.server, state.option("user", "bob"),
                              state.option("password", "lab"))
        if step.verb == "list":
            rows = await reader.list()
            text = "\n".join(f"{r.number}: {r.sender} — {r.subject}" for r in rows)
            return Outcome(f"{len(rows)} message(s)" + (f":\n{text}" if text else ""),
                           {"ok": True, "reply": "+OK", "text": text})
        if step.verb == "retr":
            text = (await reader.read(int(step.args[0]))).decode("utf-8", "replace")
            return Outcome(_short(text), {"ok": True, "reply": "+OK", "text": text})
        text = await reader.delete(int(step.args[0]))
        return Outcome(text, {"ok": True, "reply": text.split()[0], "text": text})
    except (Pop3Error, ValueError) as exc:
        return _failed(str(exc))


async def _ftp(state: ClientState, step: Step) -> Outcome:
    client: FtpClient = state.obj()
    try:
        if not client.connected:
            await client.connect(state.server, state.option("user", "anonymous"),
                                 state.option("password", "guest@lab.test"),
                                 passive=state.option("passive", "true") != "false")
        if step.verb == "list":
            entries = await client.list()
            text = "\n".join(f"{e.kind:4} {e.size:>8} {e.name}" for e in entries)
            return Outcome(f"{len(entries)} entries:\n{text}", {"ok": True, "text": text})
        if step.verb == "cd":
            cwd = await client.cd(step.args[0])
            return Outcome(f"now in {cwd}", {"ok": True, "text": cwd})
        path = await client.download(step.args[0], state.folder)
        data = path.read_bytes()
        text = data.decode("utf-8", "replace")
        return Outcome(f"{path.name}: {len(data)} bytes", {"ok": True, "text": text})
    except FtpClientError as exc:
        return _failed(str(exc))


async def _dns(state: ClientState, step: Step) -> Outcome:
    client: DnsClient = state.obj()
    rdtype = step.args[1] if len(step.args) > 1 else "A"
    result = await client.query(step.args[0], rdtype, server=state.server)
    if result.error:
        return _failed(result.error)
    text = "\n".join(f"{r.name} {r.ttl} {r.type} {r.value}" for r in result.rows)
    return Outcome(f"{result.rcode}" + (f":\n{text}" if text else ""),
                   {"ok": True, "rcode": result.rcode, "text": text})


async def _ws(state: ClientState, step: Step) -> Outcome:
    chat: ChatClient = state.obj()
    try:
        if not chat.connected:
            host, port = parse_address(state.server)
            await chat.connect(host, port, state.option("nick", state.spec.name))
        seen = len(chat.lines)
        await chat.say(step.args[0])
        loop = asyncio.get_running_loop()
        until = loop.time() + CHAT_WAIT
        while not any(step.args[0] in line for line in chat.lines[seen:]) \
                and loop.time() < until:
            await asyncio.sleep(0.02)
    except ChatError as exc:
        return _failed(str(exc))
    text = "\n".join(chat.lines)
    return Outcome("the room: " + " | ".join(chat.lines[-4:]), {"ok": True, "text": text})


async def _echo(state: ClientState, step: Step) -> Outcome:
    try:
        if not state.connected:
            await state.engine.client_connect(state.node_id, state.server)
            state.connected = True
        reply = await state.engine.client_send(state.node_id, step.args[0].encode())
    except EngineError as exc:
        return _failed(str(exc))
    text = reply.decode("utf-8", "replace")
    return Outcome(f"came back: {text!r}" if reply else "nothing came back",
                   {"ok": True, "reply": text, "text": text})


ACT: dict[str, Callable[[ClientState, Step], Awaitable[Outcome]]] = {
    "http": _http, "browser": _browser, "smtp": _smtp, "pop3": _pop3, "ftp": _ftp,
    "dns": _dns, "ws": _ws, "echo": _echo,
}
