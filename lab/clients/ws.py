"""The WebSocket chat client: joins a chat room and shows what the room pushes.

``ChatClient.connect(host, port, name)`` opens ``ws://host:port/?name=NAME`` (the
lab chat server's way to give a name) through the router with protocol
``websocket``, so the upgrade and every frame are captured. Lines the server
pushes arrive without being asked: they go into ``lines`` and to every watcher
(``watch``), as ``ChatEvent("line", text)``; when the connection ends, watchers
get one ``ChatEvent("closed", sentence, code, reason)`` saying who closed it and
why. ``leave`` (or ``close``) closes with 1000. Compression is off so that the
frames read in the inspector. What the user can act on raises ChatError.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Close, CloseCode

from lab.clients import Router, Seen, patience
from lab.dissect.ws_frames import close_meaning
from lab.model import Outcome, Transport, format_address, parse_address

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

log = logging.getLogger(__name__)

TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
#: Received lines kept in ``lines`` (the oldest go first).
LINE_LIMIT = 1000


class ChatError(Exception):
    """Joining or sending failed; the text says why, for the user."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatEvent:
    """``kind`` is ``"line"`` (``text`` is what the room pushed) or ``"closed"``
    (``text`` says who closed the connection and why; ``code`` and ``reason`` are
    the close frame's, None and "" when there was none). ``session`` numbers the
    client's connections, so that a late event of an earlier one can be told apart."""

    kind: str
    text: str
    code: int | None = None
    reason: str = ""
    session: int = 0


ChatListener = Callable[[ChatEvent], None]


def describe_close(close: Close) -> str:
    reason = f": {close.reason}" if close.reason else ""
    return f"{close.code} ({close_meaning(close.code)}){reason}"


class ChatClient:
    """One chat client; call its coroutines on the engine's loop."""

    def __init__(self, route: Router, seen: Seen | None = None) -> None:
        self._route = route
        self._seen = seen
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._leaving = False
        self._listeners: list[ChatListener] = []
        self.lines: list[str] = []
        #: Lines received on this connection, those cut from ``lines`` too.
        self.received = 0
        self.ended: ChatEvent | None = None
        self.server = ""
        self.local = ""
        self.session = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None and self.ended is None

    def watch(self, listener: ChatListener) -> Callable[[], None]:
        """Call ``listener(ChatEvent)`` on the engine's loop for each line and the end."""
        self._listeners.append(listener)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return stop

    async def connect(self, host: str, port: int, name: str) -> str:
        """Join the room at ``host:port`` as ``name``; the local address, or ChatError."""
        await self.close()
        where = format_address(host, port)
        real_host, real_port = await self._route(Transport.TCP, host, port, "websocket")
        uri = f"ws://{where}/?name={quote(name.strip(), safe='')}"
        try:
            ws = await connect(uri, host=real_host, port=real_port, compression=None,
                               proxy=None, open_timeout=patience(self._route)(TIMEOUT),
                               close_timeout=CLOSE_TIMEOUT,
                               create_connection=self._connection_type())
        except InvalidStatus as exc:
            response = exc.response
            body = response.body.decode("utf-8", "replace").strip().splitlines()
            why = f": {body[0]}" if body else ""
            raise ChatError(f"{where} refused to open a WebSocket: HTTP "
                            f"{response.status_code} {response.reason_phrase}{why}") from None
        except InvalidMessage as exc:
            if isinstance(exc.__cause__, EOFError):
                raise ChatError(f"{where} closed the connection without answering the "
                                "upgrade: is a WebSocket server running there?") from None
            raise ChatError(f"{where} did not answer as a WebSocket server: {exc}") from None
        except (InvalidHandshake, InvalidURI) as exc:
            raise ChatError(f"{where} did not answer as a WebSocket server: {exc}") from None
        except TimeoutError:
            raise ChatError(f"{where} did not answer in time") from None
        except OSError as exc:
            why = ("connection refused" if isinstance(exc, ConnectionRefusedError)
                   else exc.strerror or str(exc))
            raise ChatError(f"cannot connect to {where}: {why} (is a WebSocket server "
                            "running there?)") from None
        self._ws, self.server, self.ended, self._leaving = ws, where, None, False
        self.session += 1
        self.lines, self.received = [], 0
        self.local = format_address(*ws.local_address[:2])
        self._reader = asyncio.create_task(self._read(ws, self.session))
        return self.local

    def _connection_type(self) -> type[ClientConnection]:
        """websockets' connection, telling ``seen`` its local address as soon as the
        TCP connection is up: before the upgrade, so the UI names it from the start."""
        seen = self._seen

        class Reporting(ClientConnection):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                local = transport.get_extra_info("sockname")
                if seen is not None and local:
                    seen(format_address(*local[:2]))

        return Reporting

    async def say(self, text: str) -> None:
        """Send one chat message; ChatError if not in a room."""
        ws = self._ws
        if ws is None or self.ended is not None:
            why = self.ended.text if self.ended is not None else "press Connect first"
            raise ChatError(f"not in a room: {why}")
        try:
            await ws.send(text)
        except ConnectionClosed:
            await self._wait_reader()
            why = self.ended.text if self.ended is not None else "the connection closed"
            raise ChatError(why) from None

    async def leave(self) -> None:
        """Close the connection with 1000 (normal closure) and wait for it to end."""
        ws = self._ws
        if ws is None:
            return
        self._leaving = True
        await ws.close(CloseCode.NORMAL_CLOSURE, "bye")
        await self._wait_reader()

    async def close(self) -> None:
        """Leave (1000), and stop reading if the close handshake did not end it."""
        await self.leave()
        self._ws = None
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _wait_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), CLOSE_TIMEOUT * 2)

    async def _read(self, ws: ClientConnection, session: int) -> None:
        try:
            async for message in ws:
                text = message if isinstance(message, str) else (
                    f"(a binary message of {len(message)} bytes)")
                self.lines.append(text)
                del self.lines[:-LINE_LIMIT]
                self.received += 1
                self._tell(ChatEvent(kind="line", text=text, session=session))
        except ConnectionClosed:
            pass  # how it closed is read below
        finally:
            self.ended = self._how_it_ended(ws, session)
            self._tell(self.ended)

    def _how_it_ended(self, ws: ClientConnection, session: int) -> ChatEvent:
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        server_first = rcvd is not None and (sent is None or ws.protocol.close_rcvd_then_sent)
        if self._leaving and sent is not None:
            text = "you left the room"
        elif server_first and rcvd is not None:
            text = f"the server closed the connection: {describe_close(rcvd)}"
        elif sent is not None:
            text = f"this client closed the connection: {describe_close(sent)}"
        else:
            text = "the connection was lost without a close frame (1006)"
        close = rcvd or sent
        return ChatEvent(kind="closed", text=text, code=close.code if close else None,
                         reason=close.reason if close else "", session=session)

    def _tell(self, event: ChatEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken watcher must not stop the reading
                log.exception("a chat client watcher failed")


# ---- actions (panels and lessons alike: see lab/clients/handle.py) ------------------

#: How long ``say`` waits for the room to echo what was said, in seconds.
CHAT_WAIT = 2.0
#: Lines a ChatView carries (the newest).
VIEW_LINES = 500


@dataclass(frozen=True, slots=True)
class ChatView:
    """What the chat panel shows: in the room or not, the room's lines (the newest
    VIEW_LINES of ``received`` on connection number ``session``), and how the last
    connection ended ("" while it lasts; ``code`` its close code, None if none)."""

    connected: bool = False
    lines: tuple[str, ...] = ()
    ended: str = ""
    local: str = ""
    server: str = ""
    session: int = 0
    received: int = 0
    code: int | None = None


def nick(handle: ClientHandle) -> str:
    """The name to join as: the ``nick`` setting, else the client's own name."""
    return handle.setting("nick").strip() or str(handle.memory.get("name") or handle.node)


def _show(handle: ClientHandle, chat: ChatClient) -> None:
    ended = chat.ended
    handle.show(view=ChatView(chat.connected, tuple(chat.lines[-VIEW_LINES:]),
                              ended.text if ended is not None else "", chat.local,
                              chat.server, chat.session, chat.received,
                              ended.code if ended is not None else None))


async def _connect(handle: ClientHandle, chat: ChatClient) -> None:
    host, port = parse_address(handle.address("server") or "127.0.0.1:8765")
    if "watching" not in handle.memory:  # the room pushes lines: show each one
        handle.memory["watching"] = chat.watch(lambda _event: _show(handle, chat))
    await chat.connect(host, port, nick(handle))
    _show(handle, chat)


async def _say(chat: ChatClient, text: str) -> None:
    """Say ``text`` and wait up to CHAT_WAIT for the room to echo it."""
    seen = len(chat.lines)
    await chat.say(text)
    loop = asyncio.get_running_loop()
    until = loop.time() + CHAT_WAIT
    while not any(text in line for line in chat.lines[seen:]) and loop.time() < until:
        await asyncio.sleep(0.02)


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``connect``, ``say TEXT`` (connecting first if need be; waits up to CHAT_WAIT
    for the room to echo it), ``leave``/``close``. Settings: server, nick (empty:
    the client's name)."""
    chat: ChatClient = handle.obj
    try:
        if verb == "close":  # the client goes: nothing more to watch
            unwatch = handle.memory.pop("watching", None)
            if unwatch is not None:
                unwatch()
            await chat.close()
            _show(handle, chat)
            return Outcome("closed")
        if verb == "leave":
            await chat.leave()
            _show(handle, chat)
            return Outcome("left the room")
        if verb not in ("connect", "say"):
            return Outcome(f"the chat client cannot {verb!r}", {"ok": False, "text": ""})
        if verb == "connect" or not chat.connected:
            await _connect(handle, chat)
            if verb == "connect":
                return Outcome(f"joined as {nick(handle)}",
                               {"ok": True, "text": "\n".join(chat.lines)})
        await _say(chat, " ".join(args))
    except (ChatError, ValueError) as exc:
        _show(handle, chat)
        return Outcome(str(exc), {"ok": False, "text": str(exc)})
    return Outcome("the room: " + " | ".join(chat.lines[-4:]),
                   {"ok": True, "text": "\n".join(chat.lines)})
