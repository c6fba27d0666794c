"""The HTTP client: the request composer's engine, on aiohttp.

One HttpClient keeps one aiohttp session, so consecutive requests to the same
server reuse a keep-alive connection, as a browser's would, and the inspector
shows it. Every request goes where the engine's router says: a lab server
directly, anything else through an outbound Wire (the Host header keeps the
name the user typed). Told a DNS server (``dns_server``), a request first looks the
host name up there with the lab's DNS client, then connects to the address found:
"lookup, then connect", both in the capture.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from lab.clients import Router, Seen, patience
from lab.clients.dns import DnsClient
from lab.model import Outcome, Transport, format_address

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

#: Response bodies kept for the panel (bytes); the rest is counted, not kept.
BODY_LIMIT = 4 * 1024 * 1024
TIMEOUT = 30.0

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Milliseconds from the start of the request."""

    connect: float  # 0 when a keep-alive connection was reused
    first_byte: float
    total: float
    reused: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResult:
    """What came back, or ``error`` (a sentence for the user) when nothing did."""

    method: str
    url: str
    status: int = 0
    reason: str = ""
    version: str = ""
    headers: Headers = ()
    body: bytes = b""
    size: int = 0
    timing: Timing | None = None
    error: str = ""
    resolved: str = ""  # "www.lab.test → 127.0.0.1 (…)" when the host was looked up first

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value.split(";")[0].strip().lower()
        return ""


@dataclass
class _Clock:
    start: float = field(default_factory=time.perf_counter)
    connected: float | None = None
    reused: bool = False

    def ms(self, since: float | None = None) -> float:
        return (time.perf_counter() - (since or self.start)) * 1000


def _tracing() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def created(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
        clock = ctx.trace_request_ctx
        if isinstance(clock, _Clock):
            clock.connected = time.perf_counter()

    async def reused(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
        clock = ctx.trace_request_ctx
        if isinstance(clock, _Clock):
            clock.connected, clock.reused = clock.start, True

    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace


def parse_url(text: str) -> URL:
    """A URL the user typed; ``http://`` is assumed. ValueError says what is wrong."""
    text = text.strip()
    if not text:
        raise ValueError("no URL: type one such as http://127.0.0.1:8080/")
    if "://" not in text:
        text = "http://" + text
    url = URL(text)
    if url.scheme not in ("http", "https"):
        raise ValueError(f"only http:// URLs are supported here, not {url.scheme}://")
    if not url.host:
        raise ValueError(f"no host in {text!r}")
    return url


def _source_for(family: int, destination: Any) -> str | None:
    """The local address this machine sends from to ``destination`` (a connected UDP
    socket tells, sending nothing), or None."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(destination)
            return str(probe.getsockname()[0])
    except (OSError, TypeError, ValueError):
        return None


class HttpClient:
    """Send HTTP requests through the lab. ``close`` when done."""

    def __init__(self, route: Router, seen: Seen | None = None, *,
                 timeout: float = TIMEOUT) -> None:
        self._route = route
        self._seen = seen
        self._new_sockets: list[socket.socket] = []  # made, local address not yet reported
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(socket_factory=self._make_socket),
                trace_configs=[_tracing()],
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                auto_decompress=True,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        *,
        dns_server: str | None = None,
    ) -> HttpResult:
        """Send one request; never raises for network trouble (see ``HttpResult.error``).
        ``dns_server`` (``host:port``): look the host up there first (an A record)."""
        method = method.strip().upper() or "GET"
        try:
            parsed = parse_url(url)
        except ValueError as exc:
            return HttpResult(method=method, url=url, error=str(exc))
        host, resolved = parsed.host or "", ""
        if dns_server:
            try:
                host, resolved = await self._look_up(host, dns_server)
            except ValueError as exc:
                return HttpResult(method=method, url=str(parsed), error=str(exc))
        host, port = await self._route(Transport.TCP, host, parsed.port or 80, "http")
        target = parsed.with_host(host).with_port(port)
        sent = [(k, v) for k, v in headers if k.strip()]
        if not any(k.lower() == "host" for k, _ in sent):
            sent.insert(0, ("Host", _authority(parsed)))
        clock = _Clock()
        try:
            async with self._ensure_session().request(
                method, target, headers=sent, data=body, allow_redirects=False,
                trace_request_ctx=clock,
                timeout=aiohttp.ClientTimeout(total=patience(self._route)(self._timeout)),
            ) as response:
                first_byte = clock.ms()
                self._report_local()
                kept, size = await _read_body(response)
                return HttpResult(
                    method=method, url=str(parsed), status=response.status,
                    reason=response.reason or "", version=_version(response.version),
                    headers=tuple((k.decode("latin-1"), v.decode("latin-1"))
                                  for k, v in response.raw_headers),
                    body=kept, size=size,
                    timing=Timing(
                        connect=0.0 if clock.reused or clock.connected is None
                        else (clock.connected - clock.start) * 1000,
                        first_byte=first_byte, total=clock.ms(), reused=clock.reused),
                    resolved=resolved,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return HttpResult(method=method, url=str(parsed), error=_explain(exc, parsed),
                              resolved=resolved)

    async def _look_up(self, name: str, server: str) -> tuple[str, str]:
        """The address the DNS server at ``server`` gives ``name`` (an A record), and
        a line saying so; ValueError says why there is none."""
        try:
            ipaddress.ip_address(name)
            return name, ""  # already an address: nothing to look up
        except ValueError:
            pass
        result = await DnsClient(self._route, self._seen).query(name, "A", server)
        if not result.ok:
            raise ValueError(f"{name}: lookup failed: {result.error}")
        if result.rcode != "NOERROR":
            what = {"NXDOMAIN": "no such name", "REFUSED": "the server refused to look it up"}
            raise ValueError(f"{name}: {what.get(result.rcode, 'lookup failed')} "
                             f"({result.rcode} from {result.server})")
        found = [row.value for row in result.section("answer") if row.type == "A"]
        if not found:
            raise ValueError(f"{name}: no address (no A record) at {result.server}")
        return found[0], f"{name} → {found[0]} (A from {result.server}, {result.ms:.1f} ms)"

    def _make_socket(self, info: tuple[Any, ...]) -> socket.socket:
        """A socket for a new connection to ``info``'s address, bound (before it
        connects) to the local address it will use, which is reported at once: the
        capture knows this client's end before its first byte, even on a connection
        reset or held at once. Where that cannot be known, it is reported after."""
        family, kind, proto = info[:3]
        sock = socket.socket(family, kind, proto)
        local = _source_for(family, info[4]) if len(info) > 4 else None
        if local is not None:
            try:
                sock.bind((local, 0))
                if self._seen is not None:
                    self._seen(format_address(*sock.getsockname()[:2]))
                return sock
            except OSError:
                pass
        self._new_sockets.append(sock)
        return sock

    def _report_local(self) -> None:
        """Say which local address each new connection came from (the UI names them)."""
        new, self._new_sockets = self._new_sockets, []
        for sock in new:
            try:
                local = sock.getsockname()
            except OSError:  # closed: a connection attempt that failed
                continue
            if local[1] == 0:  # not connected yet: look again after the next request
                self._new_sockets.append(sock)
            elif self._seen is not None:
                self._seen(format_address(*local[:2]))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _authority(url: URL) -> str:
    host = url.raw_host or ""
    return host if url.is_default_port() else f"{host}:{url.port}"


def _version(version: aiohttp.HttpVersion | None) -> str:
    return f"HTTP/{version.major}.{version.minor}" if version else ""


async def _read_body(response: aiohttp.ClientResponse) -> tuple[bytes, int]:
    kept = bytearray()
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if len(kept) < BODY_LIMIT:
            kept += chunk[: BODY_LIMIT - len(kept)]
    return bytes(kept), size


def _explain(exc: BaseException, url: URL) -> str:
    where = _authority(url)
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return f"no answer from {where} in time"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{where} closed the connection without answering"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {where}: {exc.os_error.strerror or exc.os_error}"
    return f"{where}: {exc}"


# ---- actions (panels and lessons alike: see lab/clients/handle.py) ------------------

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: How the ``body`` setting is sent (the ``mode`` setting): as typed, checked JSON, or
#: ``key=value`` lines URL-encoded as a form.
MODES = ("raw", "JSON", "form")
MODE_TYPES = {"JSON": "application/json", "form": "application/x-www-form-urlencoded"}
#: Requests the composer's history keeps (the oldest go first).
HISTORY_LIMIT = 100


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """One request of the composer's history: the settings it was sent with (enough
    to fill the form again) and how it ended."""

    method: str
    url: str
    headers: str = ""
    body: str = ""
    mode: str = "raw"
    dns: str = ""
    status: int = 0
    reason: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class ComposerView:
    """What the request composer shows: the last response (None before the first
    request) and every request sent, oldest first, whoever sent it."""

    result: HttpResult | None = None
    history: tuple[Sent, ...] = ()


def parse_headers(text: str) -> list[tuple[str, str]]:
    """``Name: value`` lines (the ``headers`` setting) as pairs; blank lines skipped."""
    pairs = []
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            pairs.append((name.strip(), value.strip()))
    return pairs


def format_headers(pairs: Sequence[tuple[str, str]]) -> str:
    """Pairs as the ``headers`` setting: one ``Name: value`` line each."""
    return "\n".join(f"{name}: {value}" for name, value in pairs if name.strip())


def request_url(handle: ClientHandle, target: str) -> str:
    """``target`` as a URL: a path is on the ``server`` setting's server (named by the
    ``host`` setting if there is one, as a look-up would); a URL stays as it is."""
    if target.startswith(("http://", "https://")):
        return target
    server = handle.address("server") or "127.0.0.1:8080"
    host = handle.setting("host")
    if host:
        server = f"{host}:{server.rpartition(':')[2]}"
    return f"http://{server}{target if target.startswith('/') else '/' + target}"


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``send``: the request the settings describe (method, url, headers, body sent
    as ``mode`` says, looked up first at ``dns`` when set); ``get PATH``, ``post PATH
    BODY``… (any method) set those settings first, as a person would type them, then
    send. ``{location}`` in a path is the Location of the last answer. The view is a
    ComposerView: the response and the history; ``close`` drops the connections."""
    client: HttpClient = handle.obj
    if verb == "close":
        await client.close()
        return Outcome("closed")
    if verb.upper() in METHODS:
        _type_request(handle, verb.upper(), args)
    elif verb != "send":
        return Outcome(f"the request composer cannot {verb!r}", {"ok": False, "text": ""})
    return await _send(handle, client)


def _type_request(handle: ClientHandle, method: str, args: Sequence[str]) -> None:
    """Fill the settings as a person would for ``METHOD PATH [BODY]``."""
    path = (args[0] if args else "/").replace("{location}", handle.memory.get("location", ""))
    body = args[1] if len(args) > 1 else ""
    headers = "Content-Type: application/json" if body[:1] in ("{", "[") else ""
    handle.configure({"method": method, "url": request_url(handle, path),
                      "headers": headers, "body": body, "mode": "raw"})


async def _send(handle: ClientHandle, client: HttpClient) -> Outcome:
    """Send what the settings say; remember it in the history; show the response."""
    typed = Sent(method=handle.setting("method", "GET").strip().upper() or "GET",
                 url=handle.setting("url").strip(), headers=handle.setting("headers"),
                 body=handle.setting("body"), mode=handle.setting("mode", "raw"),
                 dns=handle.setting("dns").strip())
    headers = parse_headers(typed.headers)
    try:
        body, content_type = encode_body(typed.body, typed.mode)
    except ValueError as exc:  # nothing is sent
        return Outcome(str(exc), {"ok": False, "text": str(exc)})
    if content_type and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", content_type))
    result = await client.request(typed.method, typed.url, headers, body,
                                  dns_server=handle.address("dns") or None)
    history: list[Sent] = handle.memory.setdefault("history", [])
    history.append(replace(typed, status=result.status, reason=result.reason,
                           error=result.error))
    del history[:-HISTORY_LIMIT]
    handle.show(view=ComposerView(result, tuple(history)))
    return _outcome(handle, result)


def _outcome(handle: ClientHandle, result: HttpResult) -> Outcome:
    if result.error:
        return Outcome(result.error, {"ok": False, "text": result.error})
    location = next((v for k, v in result.headers if k.lower() == "location"), "")
    if location:
        handle.memory["location"] = location
    looked = f"{result.resolved}; " if result.resolved else ""
    return Outcome(f"{looked}{result.status} {result.reason} ({result.size} bytes)",
                   {"ok": True, "status": result.status,
                    "text": result.body.decode("utf-8", "replace")})
