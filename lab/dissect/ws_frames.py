"""What one WebSocket frame shows: its summary line and its ordered fields.

Pure functions over a frame's header and (a bounded prefix of) its unmasked
payload; ``lab.dissect.websocket`` reads the frames and keeps the state of a
fragmented message in a ``Reassembly``.

Field names: ``opcode`` (TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG), ``fin``,
``rsv1``, ``masked``, ``masking key`` (hex, client frames only), ``payload length``,
then ``payload text`` or ``payload hex`` (a prefix), ``note``; for CLOSE ``close
code``, ``close meaning`` and ``close reason``; for a fragment ``fragment`` (its
number), and on the last one ``message frames``, ``message length`` and
``message text`` (or ``message hex``): the whole message, reassembled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from websockets.frames import Close, Opcode

from lab.dissect.raw import preview
from lab.model import FieldValue

#: Payload bytes kept for the text fields (of one frame and of a reassembled message).
PAYLOAD_PREVIEW = 4096
#: Payload bytes shown as hex when the payload is not text.
HEX_PREVIEW = 256
#: Text shown in a summary line.
SUMMARY_PREVIEW = 48

COMPRESSED_NOTE = "compressed (permessage-deflate), not decoded"

NAMES = {
    Opcode.CONT: "CONTINUATION",
    Opcode.TEXT: "TEXT",
    Opcode.BINARY: "BINARY",
    Opcode.CLOSE: "CLOSE",
    Opcode.PING: "PING",
    Opcode.PONG: "PONG",
}

CLOSE_MEANINGS = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status code",
    1006: "closed without a close frame",
    1007: "invalid payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "extension required",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
}

FieldList = list[tuple[str, FieldValue]]


@dataclass(frozen=True, slots=True)
class Head:
    """A frame's header as it crossed (RSV1 included, which websockets' parser hides)."""

    opcode: Opcode
    fin: bool
    rsv1: bool
    masked: bool
    key: bytes
    length: int

    @property
    def name(self) -> str:
        return NAMES[self.opcode]


def header_length(second_byte: int) -> int:
    """Bytes in a frame header, given its second byte: 2, the extended length, the key."""
    extended = {126: 2, 127: 8}.get(second_byte & 0x7F, 0)
    return 2 + extended + (4 if second_byte & 0x80 else 0)


def read_head(header: bytes, length: int) -> Head:
    """The Head of a frame whose header bytes (key included) are ``header``."""
    first, second = header[0], header[1]
    masked = bool(second & 0x80)
    whole = len(header) >= header_length(second)  # a cut-off frame may lack its key
    return Head(
        opcode=Opcode(first & 0x0F),
        fin=bool(first & 0x80),
        rsv1=bool(first & 0x40),
        masked=masked,
        key=bytes(header[header_length(second) - 4:header_length(second)])
        if masked and whole else b"",
        length=length,
    )


def unmask(data: bytes, key: bytes) -> bytes:
    if not key:
        return data
    whole = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(whole, "big")).to_bytes(len(data), "big")


def plural(n: int) -> str:
    return f"{n} byte{'' if n == 1 else 's'}"


def decode(data: bytes, *, partial: bool) -> str | None:
    """``data`` as UTF-8 text, None if it is not; a ``partial`` prefix may end mid-character."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.reason == "unexpected end of data":
            return data[:exc.start].decode("utf-8", "replace")
        return None


def payload_fields(prefix: str, data: bytes, *, text: bool, partial: bool) -> FieldList:
    """``<prefix> text`` when the payload is (meant as) text, else ``<prefix> hex``."""
    shown = decode(data[:PAYLOAD_PREVIEW], partial=partial or len(data) > PAYLOAD_PREVIEW)
    if text and shown is not None:
        return [(f"{prefix} text", shown)]
    note = [("note", "not valid UTF-8")] if text else []
    return [(f"{prefix} hex", data[:HEX_PREVIEW].hex(" ")), *note]


def header_fields(head: Head) -> FieldList:
    fields: FieldList = [("opcode", head.name), ("fin", head.fin), ("rsv1", head.rsv1),
                         ("masked", head.masked)]
    if head.masked:
        fields.append(("masking key", head.key.hex()))
    fields.append(("payload length", head.length))
    return fields


@dataclass(slots=True)
class Reassembly:
    """A fragmented message so far: its type, frame count, length and a bounded prefix."""

    opcode: Opcode
    compressed: bool
    frames: int = 0
    length: int = 0
    data: bytearray = field(default_factory=bytearray)

    def add(self, payload: bytes, length: int) -> None:
        self.frames += 1
        self.length += length
        room = PAYLOAD_PREVIEW - len(self.data)
        if room > 0:
            self.data += payload[:room]


def control(head: Head, payload: bytes) -> tuple[str, FieldList]:
    """Summary and fields of a CLOSE, PING or PONG frame (ProtocolError for a bad close)."""
    fields = header_fields(head)
    if head.opcode is Opcode.CLOSE:
        close = Close.parse(payload)
        if not payload:
            return "CLOSE (no status code)", fields
        meaning = close_meaning(close.code)
        fields += [("close code", close.code), ("close meaning", meaning),
                   ("close reason", close.reason)]
        reason = f" {preview(payload[2:], 125)}" if close.reason else ""
        return f"CLOSE {close.code} ({meaning}){reason}", fields
    if payload:
        fields += payload_fields("payload", payload, text=False, partial=False)
        return f"{head.name} ({plural(len(payload))})", fields
    return head.name, fields


def close_meaning(code: int) -> str:
    if 3000 <= code < 4000:
        return "registered by a library or framework"
    if 4000 <= code < 5000:
        return "private: the application's own"
    return CLOSE_MEANINGS.get(code, "unknown")


def _content(payload: bytes, *, text: bool, compressed: bool) -> str:
    if compressed:
        return "compressed, not decoded"
    if text:
        return preview(payload, SUMMARY_PREVIEW)
    return payload[:16].hex(" ") + ("…" if len(payload) > 16 else "")


def data_frame(head: Head, payload: bytes, message: Reassembly | None,
               *, whole: bool) -> tuple[str, FieldList]:
    """Summary and fields of a TEXT, BINARY or CONTINUATION frame.

    ``payload`` is the unmasked payload (a prefix unless ``whole``); ``message`` the
    fragmented message this frame belongs to, already counting it (None when the
    frame is a whole message by itself).
    """
    kind = message.opcode if message is not None else head.opcode
    compressed = message.compressed if message is not None else head.rsv1
    is_text = kind is Opcode.TEXT and not compressed
    fields = header_fields(head)
    partial = message is not None or not whole
    if compressed:
        fields += payload_fields("payload", payload, text=False, partial=partial)
        fields.append(("note", COMPRESSED_NOTE))
    else:
        fields += payload_fields("payload", payload, text=is_text, partial=partial)
    content = _content(payload, text=is_text, compressed=compressed)
    if message is None:
        return f"{head.name} {content} ({plural(head.length)})", fields
    fields.append(("fragment", message.frames))
    if not head.fin:
        return (f"{head.name} (fragment {message.frames}, more to come) {content} "
                f"({plural(head.length)})"), fields
    data = bytes(message.data)
    cut = message.length > len(data)
    fields += [("message frames", message.frames), ("message length", message.length)]
    if not compressed:
        fields += payload_fields("message", data, text=kind is Opcode.TEXT, partial=cut)
    whole_content = _content(data, text=is_text, compressed=compressed)
    return (f"{head.name} (last, message of {message.frames} frames: {whole_content}, "
            f"{plural(message.length)})"), fields
