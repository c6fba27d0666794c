"""The hostile-client battery, reduced for CI: every server kind behind its Wire, as
``cslab serve`` processes, against every attack; after each, a user's client works.

One run of the battery (a module fixture, about 25 s) feeds a test per target and
attack, each asserting what a user would see."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hostile.attacks import UDP_TARGETS, Scale, attacks_for
from tests.hostile.battery import MEMORY_BOUND_KB, TARGETS, Row, run

CI = Scale(random_bytes=4096, long_line=1024 * 1024, slow_connections=12, slow_seconds=2.0,
           half_open=4, half_open_seconds=0.3, flood=24, datagrams=20, cap=16,
           pipeline=16 * 1024)
#: What the normal client shows when it works.
EXPECTED = {
    "http": "200", "smtp": "250", "pop3": "+OK", "ftp": "hello.txt listed",
    "ws": "normal: still here", "dns-udp": "www.lab.test A 127.0.0.1",
    "dns-tcp": "www.lab.test A 127.0.0.1", "tcp-echo": "ping", "udp-echo": "ping",
}
#: Attacks whose bytes are not the protocol: the capture must flag some as malformed.
NOT_THE_PROTOCOL = {"random bytes", "10 MB line", "NUL bytes", "invalid UTF-8"}
ECHOES = {"tcp-echo", "udp-echo"}
CASES = [(target, attack) for targets in TARGETS.values() for target in targets
         for attack in attacks_for(target)]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Row]:
    """Every row, two server kinds at a time (each its own process: mostly waiting)."""
    folder: Path = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda kind: run([kind], CI, folder, warm_up=1), TARGETS)
        return {(row.target, row.attack): row for rows in runs for row in rows}


@pytest.mark.parametrize(("target", "attack"), CASES, ids=[f"{t}-{a}" for t, a in CASES])
def test_the_server_survives_and_the_capture_holds_every_byte(
        rows: dict[tuple[str, str], Row], target: str, attack: str) -> None:
    row = rows[(target, attack)]
    assert row.alive, row.notes
    assert row.tracebacks == 0, row.notes
    assert row.normal_after.startswith(EXPECTED[target]), row.normal_after
    if row.normal_during:  # slowloris, half-open: the client got in beside them
        assert row.normal_during.startswith(EXPECTED[target]), row.normal_during
    assert row.rss_after_kb - row.rss_baseline_kb <= MEMORY_BOUND_KB
    assert row.messages_lost == 0 and row.bytes_lost == 0, row.notes
    assert row.kernel_drops == 0
    assert row.bytes_captured <= row.bytes_sent, row.notes
    if attack in NOT_THE_PROTOCOL and target not in ECHOES:
        assert row.malformed >= 1
    if attack in NOT_THE_PROTOCOL and target in ECHOES:
        assert (row.malformed, row.bytes_captured) == (0, row.bytes_sent)
    if attack == "flood past the cap":
        assert row.refused >= CI.flood - CI.cap
    if attack == "slowloris" and target not in UDP_TARGETS:
        assert row.bytes_captured == row.bytes_sent  # every trickled byte, none refused
