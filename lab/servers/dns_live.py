"""The DNS server's live data (lab/servers/live.py): its zone as a ZoneView, and the
commands that add and remove records (the server answers from them at once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.model import Outcome
from lab.servers.dns_zone import DEFAULT_TTL, Record, ZoneError
from lab.servers.live import failed

if TYPE_CHECKING:  # the UI imports the views, not the servers' libraries
    from lab.servers.dns import DnsBackend


@dataclass(frozen=True, slots=True)
class ZoneView:
    """The zone a DNS server answers from: its origin and records, SOA first; and
    what it turned away, (reason, count) pairs (lab/servers/dns_guard.py)."""

    origin: str
    records: tuple[Record, ...]
    refused: tuple[tuple[str, int], ...] = ()


def view(backend: DnsBackend) -> ZoneView:
    return ZoneView(backend.origin, tuple(backend.records()), backend.refusals.view())


def watch(backend: DnsBackend, changed: Callable[[], None]) -> Callable[[], None]:
    """Call ``changed`` after each edit of the zone and each refusal."""
    stop_zone = backend.watch(lambda _records: changed())
    stop_refusals = backend.refusals.watch(changed)

    def stop() -> None:
        stop_zone()
        stop_refusals()

    return stop


async def do(backend: DnsBackend, verb: str, args: tuple[str, ...]) -> Outcome:
    """``add NAME TYPE VALUE [TTL]`` or ``remove NAME TYPE VALUE``; a record the zone
    cannot take (or does not have) fails, saying why."""
    try:
        record = _edit(backend, verb, args)
    except ZoneError as exc:
        return failed(str(exc))
    if record is None:
        return failed("a DNS server takes 'add NAME TYPE VALUE [TTL]' or "
                      f"'remove NAME TYPE VALUE', not {' '.join((verb, *args))!r}")
    shown = f"{verb} {record.name} {record.ttl} IN {record.type} {record.value}"
    return Outcome(shown, {"ok": True, "text": shown})


def _edit(backend: DnsBackend, verb: str, args: tuple[str, ...]) -> Record | None:
    if verb == "add" and len(args) in (3, 4):
        ttl = _ttl(args[3]) if len(args) == 4 else DEFAULT_TTL
        return backend.add_record(args[0], args[1], args[2], ttl)
    if verb == "remove" and len(args) == 3:
        return backend.remove_record(*args)
    return None


def _ttl(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ZoneError(f"the TTL must be a whole number of seconds, not {text!r}") from None

