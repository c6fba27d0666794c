"""How the lab's HTTP server treats a connection, beyond aiohttp's defaults.

- A request proposing a protocol switch (``Connection: upgrade`` + ``Upgrade``)
  is answered as if it did not, with ``Connection: close``: this server switches
  to nothing, and aiohttp reads what follows such a request in ways that depend
  on the token and on how the bytes arrive (h2c: the rest of that read is
  dropped). Closing makes it one rule, the one the HTTP dissector follows.
- A request with a transfer coding other than ``chunked`` alone gets 501 and
  the connection ends (RFC 9112 §6.1); aiohttp would read ``gzip, chunked`` as
  chunked, which the dissector (h11) does not.
- A client that half-closes after its requests (``printf … | nc -q1``) still gets
  its answers: aiohttp closes on EOF before answering.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest


def proposes_switch(request: BaseRequest) -> bool:
    """The request asks to switch protocols (``Connection: upgrade`` + ``Upgrade``)."""
    tokens = {t.strip().lower() for t in request.headers.getall("Connection", [])
              for t in t.split(",")}
    return "upgrade" in tokens and "Upgrade" in request.headers


@web.middleware
async def no_switch(request: web.Request, handler: Handler) -> web.StreamResponse:
    """This server switches to nothing: a request proposing a switch gets its answer
    with ``Connection: close``, and the connection ends. (aiohttp reads what follows
    such a request in ways that depend on the token and on how the bytes arrive, so
    nothing after it is read as a request; the capture says the same.)"""
    codings = request.headers.getall("Transfer-Encoding", [])
    if codings and [c.strip().lower() for c in codings] != ["chunked"]:
        return unknown_coding(request, ", ".join(codings))
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        if proposes_switch(request):
            exc.force_close()
        raise
    if proposes_switch(request) and not response.prepared:
        response.force_close()
    return response


def unknown_coding(request: web.Request, codings: str) -> web.Response:
    """501 for a transfer coding other than plain ``chunked`` (RFC 9112 §6.1), and
    the connection ends: where this request's body ends is not known for sure."""
    response = web.json_response(
        {"error": "transfer coding not implemented",
         "detail": f"This server reads only 'Transfer-Encoding: chunked', not {codings!r}; "
                   "it closes the connection, since it cannot tell where this request "
                   "ends."}, status=501)
    response.force_close()
    return response


#: How many loop turns a half-close looks for a request body it cut short.
CUT_LOOKS = 5


class HalfCloseHandler(RequestHandler):
    """aiohttp's connection handler, but a client that half-closes (sends its FIN
    right after its requests, as ``nc -q1`` or ``printf … | nc`` do) still gets its
    answers; the connection ends once they are sent."""

    _peer_done = False
    _answered = 0  # requests answered (aiohttp counts those read in _request_count)

    def eof_received(self) -> bool:  # type: ignore[override]
        if self._request_count <= self._answered:
            return False  # nothing to answer: close as aiohttp does
        self._peer_done = True
        self._loop.call_soon(self._cut_bodies, CUT_LOOKS)
        return True  # keep our half open for the answers

    def _cut_bodies(self, looks: int) -> None:
        """A body the client half-closed in the middle of can never end: its read fails
        as on a lost connection (aiohttp closes without an answer, as without this
        class), instead of waiting for ever. A request just taken from the queue is in
        neither place for a moment: look again a few times."""
        payloads = [payload for _, payload in self._messages]
        if self._current_request is not None:
            payloads.append(self._current_request.content)
        for payload in payloads:
            if not payload.is_eof():
                payload.set_exception(ConnectionResetError(
                    "the client half-closed in the middle of a request body"))
        if looks > 1 and self._request_count > self._answered:
            self._loop.call_soon(self._cut_bodies, looks - 1)

    async def finish_response(self, request: BaseRequest, resp: web.StreamResponse,
                              start_time: float | None) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self._answered += 1
            if self._peer_done and self._request_count <= self._answered:
                self.close()  # the client can send nothing more


class HalfCloseServer(web.Server):
    """Makes a HalfCloseHandler per connection."""

    def __call__(self) -> RequestHandler:
        return HalfCloseHandler(self, loop=self._loop, **self._kwargs)


class HalfCloseRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = HalfCloseServer  # same object, our handler class
        return server
