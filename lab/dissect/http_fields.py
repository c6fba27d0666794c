"""What one HTTP message shows: its summary line and its ordered fields.

Pure functions over message heads (h11's events, or the fast path's look-alikes
from ``lab.dissect.http_head``) and a bounded body prefix; ``lab.dissect.http``
decides when a message is complete and calls these to describe it.

Field names (the inspector's pairing and the HAR export read them):

- requests: ``method``, ``target``, ``version``, then ``header: <Name>`` per header
  line (wire case and order, repeats kept), ``trailer: <Name>`` per chunked
  trailer, ``body length`` (decoded body bytes, the true total) and, when there
  is a body, ``body`` (a preview: see :func:`body_preview`).
- responses, 1xx included: ``status``, ``reason``, ``version``, headers, trailers,
  ``body length``, ``body`` as above, then ``latency ms`` and ``request`` when the
  response answers a request seen on the same connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus

import h11

from lab.dissect import http_head
from lab.model import FieldValue

#: Body bytes kept for the ``body`` preview of text.
BODY_PREVIEW = 2048
#: Body bytes shown as hex when the body is not text.
HEX_PREVIEW = 512

RequestHead = h11.Request | http_head.Request
ResponseHead = h11.Response | h11.InformationalResponse | http_head.Response
Head = RequestHead | ResponseHead
FieldList = list[tuple[str, FieldValue]]

_SPACES = str.maketrans("", "", "\r\n\t")
_REQUESTS = (h11.Request, http_head.Request)


def text(data: bytes) -> str:
    """UTF-8 when it decodes, else Latin-1 (HTTP's historical charset), never an error."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def reason(head: ResponseHead) -> str:
    """The reason phrase as sent; the standard one when the server sent none."""
    if head.reason:
        return text(head.reason)
    try:
        return HTTPStatus(head.status_code).phrase
    except ValueError:
        return ""


#: The longest summary (a request line can be as long as the head allows).
SUMMARY_LIMIT = 2000
#: Characters that break a line though they are not control characters (NEL, LS, PS).
_BREAKS = re.compile("[\x85\u2028\u2029]")


def summary(head: Head) -> str:
    """``GET /index.html`` for a request, ``200 OK`` for a response; on one line (a
    NEL, LS or PS in the target or reason phrase is shown escaped, as ``\\u2028``)."""
    if isinstance(head, _REQUESTS):
        line = f"{text(head.method)} {text(head.target)}"
    else:
        line = f"{head.status_code} {reason(head)}".rstrip()
    if _BREAKS.search(line):
        line = _BREAKS.sub(lambda m: f"\\u{ord(m[0]):04x}", line)
    if len(line) > SUMMARY_LIMIT:  # a 60 KB target is in the fields; a row shows its start
        line = line[:SUMMARY_LIMIT - 1] + "…"
    return line


def head_fields(head: Head) -> FieldList:
    """The start line's parts, then every header line as it crossed."""
    version = f"HTTP/{head.http_version.decode('ascii')}"
    first: FieldList
    if isinstance(head, _REQUESTS):
        first = [("method", text(head.method)), ("target", text(head.target))]
    else:
        first = [("status", head.status_code), ("reason", reason(head))]
    return [*first, ("version", version), *header_fields("header", head.headers.raw_items())]


def header_fields(kind: str, items: Iterable[tuple[bytes, bytes]]) -> FieldList:
    """``<kind>: <Name>`` → value per line, for headers and for chunked trailers."""
    return [(_field_name(kind, name), text(value)) for name, value in items]


def _field_name(kind: str, name: bytes) -> str:
    """``header: Content-Type``, made once per name (bounded): most messages repeat them."""
    key = (kind, name)
    found = _FIELD_NAMES.get(key)
    if found is None:
        if len(_FIELD_NAMES) >= 1024:
            _FIELD_NAMES.clear()
        found = _FIELD_NAMES[key] = f"{kind}: {text(name)}"
    return found


_FIELD_NAMES: dict[tuple[str, bytes], str] = {}


def header(head: Head, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case), or None."""
    return next((value for key, value in head.headers if key == name), None)


def content_length(head: Head) -> int | None:
    value = header(head, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def body_fields(head: Head | None, prefix: bytes, length: int) -> FieldList:
    """``body length`` always; ``body`` when there is one."""
    if not length:
        return [("body length", 0)]
    encoding = header(head, b"content-encoding") if head is not None else None
    encoded = encoding is not None and encoding.strip().lower() != b"identity"
    return [("body length", length), ("body", body_preview(prefix, length, encoded=encoded))]


def body_preview(prefix: bytes, length: int, *, encoded: bool = False) -> str:
    """The body's first bytes: as text when they are text, else as hex pairs.

    ``prefix`` holds at most BODY_PREVIEW bytes of a body of ``length`` bytes; a
    compressed (``encoded``) body is always hex. A cut body ends with "…".
    """
    shown = None if encoded else _as_text(prefix, cut=length > len(prefix))
    if shown is not None:
        return shown + ("…" if length > len(prefix) else "")
    head = prefix[:HEX_PREVIEW]
    return head.hex(" ") + ("…" if length > len(head) else "")


def _as_text(data: bytes, *, cut: bool) -> str | None:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The preview's cut may split a character: the text up to there is still text.
        if not (cut and exc.reason == "unexpected end of data"):
            return None
        decoded = data[: exc.start].decode("utf-8")
    printable = decoded.isprintable() or decoded.translate(_SPACES).isprintable()
    return decoded if printable else None
