"""Plain HTTP/1.1 message heads read without h11: the HTTP dissector's fast path.

``read_head`` accepts exactly what h11 accepts (its grammar, copied from
``h11/_abnf.py``, and its header rules), but only for the plain case a relay
sees most: HTTP/1.1, keep-alive, a body framed by Content-Length (or none). For
anything else it returns None and the dissector hands that direction to h11
from the start of the message, so h11 still decides every unusual or
malformed message, with its own words for what is wrong.

The heads it makes quack like h11's events (``method``, ``target``,
``status_code``, ``reason``, ``http_version``, ``headers``), so
``lab.dissect.http_fields`` describes both the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_VCHAR = rb"[\x21-\x7e]"
_FIELD_VCHAR = rb"[^\x00\s]"
_FIELD_CONTENT = _FIELD_VCHAR + rb"+(?:[ \t]+" + _FIELD_VCHAR + rb"+)*"
_HEADER = _TOKEN + rb":[ \t]*(?:" + _FIELD_CONTENT + rb")?[ \t]*"
#: Every header line of a head at once, each after its CRLF (one regex call per head).
_HEADERS = re.compile(rb"(?:\r\n" + _HEADER + rb")*")
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") (" + _VCHAR + rb"+) HTTP/1\.1")
_STATUS_LINE = re.compile(
    rb"HTTP/1\.1 ([0-9]{3})(?: ((?:[ \t]|" + _FIELD_VCHAR + rb")*))?")

#: A head not complete within this many bytes goes to h11, which reads long heads
#: incrementally (the fast path looks at the whole buffer on every read).
FAST_HEAD = 8192
#: h11's limit on Content-Length digits.
_LENGTH_DIGITS = 20


class Headers:
    """Header lines as h11 keeps them: iterating gives (lower-case name, value);
    ``raw_items()`` gives the names as they crossed."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[bytes, bytes, bytes]]) -> None:
        self._items = items  # (name as sent, lower-case name, value)

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return ((lower, value) for _, lower, value in self._items)

    def raw_items(self) -> list[tuple[bytes, bytes]]:
        return [(name, value) for name, _, value in self._items]


@dataclass(frozen=True, slots=True)
class Request:
    """A request head, as h11.Request has it."""

    method: bytes
    target: bytes
    headers: Headers
    http_version: bytes = b"1.1"


@dataclass(frozen=True, slots=True)
class Response:
    """A final response head (200-599), as h11.Response has it."""

    status_code: int
    reason: bytes
    headers: Headers
    http_version: bytes = b"1.1"


def read_head(head: bytes, *, request: bool) -> tuple[Request | Response, int] | None:
    """The head (without its closing blank line) and its body length, or None when
    the message is not plain and h11 must read it."""
    cut = head.find(b"\r\n")
    cut = len(head) if cut < 0 else cut
    first = (_REQUEST_LINE if request else _STATUS_LINE).fullmatch(head, 0, cut)
    if first is None or _HEADERS.fullmatch(head, cut) is None:
        return None  # illegal, or an obsolete folded line: h11 decides
    items: list[tuple[bytes, bytes, bytes]] = []
    length: bytes | None = None
    hosts = 0
    for line in head[cut + 2:].split(b"\r\n") if cut < len(head) else ():
        name, _, value = line.partition(b":")
        value = value.strip(b" \t")  # the line matched h11's grammar: OWS value OWS
        lower = name.lower()
        if lower in _SPECIAL:
            if lower == b"content-length":
                if length is not None or not value.isdigit() or len(value) > _LENGTH_DIGITS:
                    return None
                length = value
            elif lower == b"host":
                hosts += 1
            elif lower == b"connection":
                if b"close" in value.lower():
                    return None
            else:  # transfer-encoding, upgrade: framing or a switch h11 follows
                return None
        items.append((name, lower, value))
    headers = Headers(items)
    if request:
        method, target = first.group(1, 2)
        if hosts != 1 or method == b"CONNECT":
            return None
        return Request(method, target, headers), int(length or 0)
    status = int(first[1])
    if status < 200:
        return None
    if status in (204, 304):
        body = 0
    elif length is None:  # read until close: h11 knows when the connection ends
        return None
    else:
        body = int(length)
    return Response(status, first[2] or b"", headers), body


_SPECIAL = frozenset({b"content-length", b"host", b"connection", b"transfer-encoding",
                      b"upgrade"})
