"""Run attacks against served kinds and account for every byte: the tally's rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.hostile import normal
from tests.hostile.attacks import UDP_TARGETS, Attack, Scale, Sent, attacks_for
from tests.hostile.served import HOST, Record, Served

#: Server kind → the targets (ways in) it has.
TARGETS: dict[str, tuple[str, ...]] = {
    "http": ("http",), "smtp": ("smtp",), "pop3": ("pop3",), "ftp": ("ftp",), "ws": ("ws",),
    "dns": ("dns-udp", "dns-tcp"), "tcp-echo": ("tcp-echo",), "udp-echo": ("udp-echo",),
}
#: How much the serving process's memory may stay above its baseline after an attack.
MEMORY_BOUND_KB = 64 * 1024
#: The longest the battery waits for the capture to show an attack's connections closed.
SETTLE = 15.0


@dataclass
class Row:
    """One attack on one target: what was tried and what a user would see."""

    target: str
    attack: str
    connections: int = 0
    bytes_sent: int = 0
    bytes_captured: int = 0
    messages: int = 0  # every Message captured meanwhile (the normal clients' too)
    malformed: int = 0
    refused: int = 0
    messages_lost: int = 0
    bytes_lost: int = 0
    kernel_drops: int = 0
    tracebacks: int = 0  # in the server's stderr during the attack: a bug somewhere
    normal_during: str = ""
    during_seconds: float = 0.0  # how long the normal client took meanwhile (a figure only)
    normal_after: str = ""
    alive: bool = True
    rss_baseline_kb: int = 0
    rss_after_kb: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return (self.alive and not self.tracebacks and not self.normal_after.startswith("FAILED")
                and not self.normal_during.startswith("FAILED")
                and self.rss_after_kb - self.rss_baseline_kb <= MEMORY_BOUND_KB)

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "survived": self.survived}


def _normal(target: str, port: int) -> str:
    try:
        return normal.CLIENTS[target](port)
    except Exception as exc:  # what the user would see: the client's error
        return f"FAILED: {type(exc).__name__}: {exc}"


def _udp_drops(port: int) -> int:
    """The kernel's drop counter for the UDP socket bound to ``port`` (/proc/net/udp)."""
    drops = 0
    with open("/proc/net/udp", encoding="ascii") as table:
        next(table)
        for line in table:
            parts = line.split()
            if int(parts[1].rpartition(":")[2], 16) == port:
                drops += int(parts[-1])
    return drops


def _connections(records: list[Record], clients: set[str]) -> dict[str, str]:
    """Connection id → client, for the connections these clients opened."""
    return {r["connection"]: r["client"] for r in records
            if r["type"] == "open" and r["client"] in clients}


def _settle(served: Served, start: int, sents: list[Sent], udp: bool) -> list[Record]:
    """The records since ``start`` once the attack's connections have closed (TCP) or
    the capture has stopped growing (UDP), waiting SETTLE seconds at most."""
    clients = {s.client for s in sents}
    deadline = time.monotonic() + SETTLE
    count = -1
    while time.monotonic() < deadline:
        records = served.records()[start:]
        if udp:
            if len(records) == count:
                return records
            count = len(records)
        else:
            conns = _connections(records, clients)
            closed = {r["connection"] for r in records if r["type"] == "close"}
            if len(set(conns.values())) >= len({s.client for s in sents if s.sent or
                                                s.acked}) and set(conns) <= closed:
                return records
        time.sleep(0.1)
    return served.records()[start:]


def _account(row: Row, sents: list[Sent], records: list[Record], udp: bool) -> None:
    """Fill the row's counts: what the capture holds against what was sent."""
    conns = _connections(records, {s.client for s in sents})
    by_client: dict[str, list[Record]] = {}
    for r in records:
        if r["type"] == "message" and r["connection"] in conns:
            by_client.setdefault(conns[r["connection"]], []).append(r)
    for sent in sents:
        mine = by_client.get(sent.client, [])
        injected = [m for m in mine if m["injected"]]
        refused = any(m["summary"].startswith("Wire refused") for m in injected)
        client = [m for m in mine if m["sender"] == "client" and not m["injected"]]
        captured = sum(m["size"] for m in client)
        row.connections += 1
        row.bytes_sent += sent.sent
        row.bytes_captured += captured
        row.malformed += sum(1 for m in mine if m["malformed"])
        row.refused += refused
        if captured > sent.sent:
            row.notes.append(f"{sent.client}: capture shows {captured} bytes, {sent.sent} sent")
        if refused or sent.sent == 0:
            continue
        if sent.client not in set(conns.values()):
            row.messages_lost += max(1, sent.datagrams)
            row.bytes_lost += sent.sent
            row.notes.append(f"{sent.client}: not in the capture at all")
        elif udp and (len(client) < sent.datagrams or captured < sent.sent):
            row.messages_lost += sent.datagrams - len(client)
            row.bytes_lost += sent.sent - captured
        elif not udp and sent.acked and not sent.cut and captured < sent.sent:
            row.messages_lost += 1
            row.bytes_lost += sent.sent - captured
            row.notes.append(f"{sent.client}: {sent.sent} bytes reached the Wire, "
                             f"capture shows {captured}")


def attack_target(served: Served, target: str, name: str, attack: Attack, scale: Scale,
                  baseline_kb: int) -> Row:
    """One attack, the normal client during and after it, and the accounting."""
    port = served.port
    row = Row(target=target, attack=name, rss_baseline_kb=baseline_kb)
    udp = target in UDP_TARGETS
    drops_before = _udp_drops(port) if udp else 0
    start = len(served.records())
    errors_before = len(served.stderr())

    def during() -> None:
        began = time.monotonic()
        row.normal_during = _normal(target, port)
        row.during_seconds = round(time.monotonic() - began, 3)

    try:
        sents = attack(target, port, scale, during)
    except OSError as exc:
        row.notes.append(f"the attack itself failed: {exc!r}")
        sents = []
    records = _settle(served, start, sents, udp)
    row.normal_after = _normal(target, port)
    row.alive = served.alive
    errors = served.stderr()[errors_before:]
    row.tracebacks = errors.count("Traceback")
    if row.tracebacks:
        row.notes.append(errors[errors.index("Traceback"):][:1500])
    if udp:
        row.kernel_drops = _udp_drops(port) - drops_before
    _account(row, sents, records, udp)
    row.messages_lost += row.kernel_drops
    row.messages = sum(r["type"] == "message" for r in records)
    row.rss_after_kb = served.rss_kb() if row.alive else 0
    return row


def run(kinds: Iterable[str], scale: Scale, folder: Path,
        attacks: Iterable[str] | None = None,
        report: Callable[[Row], None] = lambda row: None, warm_up: int = 3) -> list[Row]:
    """Serve each kind in turn, attack each of its targets, and return every row."""
    wanted = set(attacks) if attacks is not None else None
    rows: list[Row] = []
    for kind in kinds:
        served = Served(kind, folder / kind, scale.cap)
        try:
            for target in TARGETS[kind]:
                for _ in range(warm_up):  # warm up: imports, caches, the first connection's cost
                    _normal(target, served.port)
                baseline = served.rss_kb()
                for name, attack in attacks_for(target).items():
                    if wanted is not None and name not in wanted:
                        continue
                    row = attack_target(served, target, name, attack, scale, baseline)
                    rows.append(row)
                    report(row)
                    if not row.alive:
                        row.notes.append(served.stderr()[-1000:])
                        break
        finally:
            served.stop()
    return rows


__all__ = ["HOST", "MEMORY_BOUND_KB", "TARGETS", "Row", "run"]
