"""FTP data connections: where they go (PORT, EPRT, 227, 229) and what they carry.

- :func:`parse_data_address` reads the address out of a ``227``/``229`` reply or a
  ``PORT``/``EPRT`` command; the ``format_*`` functions write those lines back
  with another address (what the Wire's FTP helper rewrites). No I/O.
- :class:`FtpDataDissector` ("ftp-data") follows one data connection: it counts
  each direction's bytes, keeps a RAW_LIMIT prefix, and gives one Piece per
  direction at ``close``; ``feed`` always returns ``[]``.
- :func:`summarise_transfer` names a transfer after the control command that
  asked for it (``RETR report.pdf: 1.2 MB``, ``LIST: 12 entries``).

Data Pieces: summary ``data: 1,234 bytes`` (``data: 812 bytes, listing: 12
entries`` when the bytes are a LIST or MLSD listing); fields ``direction``
("download" from the server, "upload" from the client), ``length``, ``entries``
(listings), ``preview``; ``opened by`` when the server opened the connection (active
mode: the roles stay FTP's, the server is the one that connected).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from lab.dissect.base import register
from lab.dissect.http_fields import BODY_PREVIEW, body_preview
from lab.dissect.lines import Bounded, FieldList
from lab.model import Piece, Sender

_NUMBERS = re.compile(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
#: RFC 2428: ``(<d><d><d><port><d>)``; a host between the delimiters is read too.
_EXTENDED = re.compile(r"\(([!-~])(\d*)\1([^()]*?)\1(\d{1,5})\1\)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, CR, LF allowed
#: A line of a listing: ``ls -l`` (LIST on Unix servers), DOS ``dir``, or MLSD facts.
_LISTING_LINE = re.compile(
    r"[-dlbcps][-rwxsStT]{9}[+@.]?\s.*"
    r"|total \d+"
    r"|\d\d-\d\d-\d\d(?:\d\d)?\s+\d\d:\d\d\s*(?:AM|PM)?\s.*"
    r"|(?:[^\s;=]+=[^;]*;)+ .+",
    re.I,
)
_DIRECTIONS = {Sender.SERVER: "download", Sender.CLIENT: "upload"}

Address = tuple[str | None, int]


# -- addresses ------------------------------------------------------------------------


def parse_data_address(item: Piece | bytes | str) -> Address | None:
    """The data address a ``227``/``229`` reply or a ``PORT``/``EPRT`` command names.

    ``item`` is the Piece, or its line (bytes or text, line end optional). Returns
    ``(host, port)``, with host None for a 229 (it names only the port), or None
    when the line is none of those four or its address does not parse.
    """
    raw = item.raw if isinstance(item, Piece) else item
    line = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    line = line.split("\n", 1)[0].rstrip("\r")
    code, rest = line[:3], line[4:]
    if code == "227":
        match = _NUMBERS.search(rest)
        return _numbers(match) if match else None
    if code == "229":
        return _extended(_EXTENDED.search(rest))
    verb, _, argument = line.partition(" ")
    if verb.upper() == "PORT":
        match = _NUMBERS.fullmatch(argument.strip())
        return _numbers(match) if match else None
    if verb.upper() == "EPRT":
        found = _extended(_EXTENDED.fullmatch(f"({argument.strip()})"))
        return found if found and found[0] else None
    return None


def _numbers(match: re.Match[str]) -> Address | None:
    values = [int(n) for n in match.groups()]
    if max(values) > 255:
        return None
    return ".".join(map(str, values[:4])), values[4] * 256 + values[5]


def _extended(match: re.Match[str] | None) -> Address | None:
    if match is None or int(match[4]) > 65535 or match[2] not in ("", "1", "2"):
        return None
    return (match[3] or None), int(match[4])


def format_227(host: str, port: int) -> bytes:
    """``227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).`` + CRLF; ValueError unless IPv4."""
    numbers = ",".join(str(ipaddress.IPv4Address(host)).split("."))
    return f"227 Entering Passive Mode ({numbers},{_pair(port)}).\r\n".encode()


def format_229(port: int) -> bytes:
    """``229 Entering Extended Passive Mode (|||port|)`` + CRLF; ValueError if bad port."""
    return f"229 Entering Extended Passive Mode (|||{_port(port)}|)\r\n".encode()


def format_port(host: str, port: int) -> bytes:
    """``PORT h1,h2,h3,h4,p1,p2`` + CRLF; ValueError unless the host is IPv4."""
    numbers = ",".join(str(ipaddress.IPv4Address(host)).split("."))
    return f"PORT {numbers},{_pair(port)}\r\n".encode()


def format_eprt(host: str, port: int) -> bytes:
    """``EPRT |1|host|port|`` (``|2|`` for IPv6) + CRLF; ValueError unless host is an IP."""
    ip = ipaddress.ip_address(host)
    family = 1 if ip.version == 4 else 2
    return f"EPRT |{family}|{ip.compressed}|{_port(port)}|\r\n".encode()


def _port(port: int) -> int:
    if not 0 < port <= 65535:
        raise ValueError(f"bad port {port}: expected 1-65535")
    return port


def _pair(port: int) -> str:
    high, low = divmod(_port(port), 256)
    return f"{high},{low}"


# -- contents ---------------------------------------------------------------------------


def human_size(size: int) -> str:
    """``340 bytes``, ``1 byte``, ``12.3 kB``, ``1.2 MB`` (decimal units)."""
    if size < 1000:
        return f"{size} byte{'' if size == 1 else 's'}"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:,.1f} TB"


def listing_lines(prefix: bytes, size: int) -> list[str] | None:
    """The text lines of a listing's first bytes, or None when they are not text lines.

    ``prefix`` holds the first bytes of ``size``; when it is cut, its last,
    partial line is left out. Empty lines are dropped.
    """
    if size > len(prefix):
        prefix = prefix[: prefix.rfind(b"\n") + 1]
    try:
        decoded = prefix.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(decoded):
        return None
    return [line.rstrip("\r") for line in decoded.split("\n") if line.rstrip("\r")]


def count_entries(verb: str, lines: list[str]) -> int:
    """Entries of a LIST, MLSD or NLST listing: no ``total`` line, no ``.``/``..`` facts."""
    if verb == "LIST" and lines and lines[0].startswith("total "):
        lines = lines[1:]
    if verb in ("MLSD", "MLST"):
        lines = [x for x in lines if not re.search(r"(?i)(?:^|;)type=[cp]dir;", x)]
    return len(lines)


def summarise_transfer(command: str, size: int, prefix: bytes) -> str:
    """A data connection named after the command that asked for it.

    ``command`` is that command's summary (``RETR report.pdf``, ``LIST``), ``size``
    the bytes the data connection carried, ``prefix`` its first bytes. Listings
    count entries (``LIST: 12 entries``, ``NLST: 3 names``; ``12+`` when the prefix
    is cut), anything else shows the size (``RETR report.pdf: 1.2 MB``).
    """
    verb = command.split(" ", 1)[0].upper()
    lines = listing_lines(prefix, size) if verb in ("LIST", "NLST", "MLSD") else None
    if lines is None:
        return f"{command or 'data'}: {human_size(size)}"
    count = count_entries(verb, lines)
    noun = ("name", "names") if verb == "NLST" else ("entry", "entries")
    more = "+" if size > len(prefix) else ""
    return f"{command}: {count:,}{more} {noun[count != 1 or bool(more)]}"


class FtpDataDissector:
    """One FTP data connection: bytes counted per direction, one Piece each at close.

    ``command``, when given, tells at close which command the connection served
    (the Wire's FTP helper knows it), so the summary can say ``RETR a.pdf: 1.2 MB``.
    """

    def __init__(self, command: Callable[[], str] | None = None,
                 opened_by: str = "") -> None:
        self._kept: dict[Sender, Bounded] = {}
        self._command = command
        self._opened_by = opened_by

    def feed(self, sender: Sender, data: bytes, now: float) -> list[Piece]:
        """Count and keep a prefix of ``data``; the Pieces come at ``close``."""
        try:
            self._kept.setdefault(sender, Bounded()).take(data)
        except Exception:  # the Wire must keep forwarding whatever happens
            pass
        return []

    def close(self, now: float) -> list[Piece]:
        """One Piece per direction that carried bytes (client first); then nothing more."""
        pieces: list[Piece] = []
        for sender in Sender:
            kept = self._kept.pop(sender, None)
            if kept is not None and kept.size:
                summary, fields = describe(sender, bytes(kept.raw), kept.size)
                command = self._command() if self._command is not None else ""
                if command:
                    summary = summarise_transfer(command, kept.size, bytes(kept.raw))
                    fields = [("command", command), *fields]
                if self._opened_by:
                    fields.append(("opened by", self._opened_by))
                pieces.append(kept.piece(sender, now, summary, fields))
        return pieces


def describe(sender: Sender, prefix: bytes, size: int) -> tuple[str, FieldList]:
    """``data: 1,234 bytes`` (``, listing: 12 entries`` for a listing) and the fields."""
    summary = f"data: {size:,} byte{'' if size == 1 else 's'}"
    fields: FieldList = [("direction", _DIRECTIONS[sender]), ("length", size)]
    lines = listing_lines(prefix, size)
    if lines and all(_LISTING_LINE.fullmatch(line) for line in lines):
        verb = "MLSD" if "=" in lines[-1].split(" ", 1)[0] else "LIST"
        count = count_entries(verb, lines)
        more = "+" if size > len(prefix) else ""
        summary += f", listing: {count:,}{more} {'entry' if count == 1 and not more else 'entries'}"
        fields.append(("entries", count))
    fields.append(("preview", body_preview(prefix[:BODY_PREVIEW], size)))
    return summary, fields


register("ftp-data", FtpDataDissector)
