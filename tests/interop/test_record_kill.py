"""kill -9 during ``cslab serve tcp-echo --record`` at 10,000 messages a second loses at
most the last half second (LOSS_BOUND), counted against what the client sent.

The client sends numbered lines (``m00001234\\n``) on 20 connections at 10,000 lines
a second for about 3 s, with at most WINDOW lines unanswered per connection (so a
slow server slows the client instead of piling lines up in socket buffers), then
kills the server by its PID. A line the file does not hold must have been sent in the
last LOSS_BOUND + MARGIN seconds before the kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.store import LOSS_BOUND, load
from tests.interop.test_cli import ENV, ROOT
from tests.interop.test_export import cslab

RATE = 10_000  # lines a second, all connections together
SECONDS = 3.0
CONNECTIONS = 20
WINDOW = 50  # unanswered lines per connection at most
#: Slack for the kill itself and for a busy 2-core machine (the server reads a line a
#: little after the client sent it).
MARGIN = 0.1


@dataclass
class Load:
    sent: dict[int, float] = field(default_factory=dict)  # line number → when sent
    echoed: dict[int, float] = field(default_factory=dict)
    killed: float = 0.0


async def _connection(port: int, numbers: list[int], load: Load, stop: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start, mine, unanswered, buffer = time.monotonic(), 0, 0, b""
    share = RATE / CONNECTIONS
    try:
        while (now := time.monotonic()) < stop and mine < len(numbers):
            due = min(len(numbers), int((now - start) * share) + 1)
            while mine < due and unanswered < WINDOW:
                writer.write(b"m%08d\n" % numbers[mine])
                load.sent[numbers[mine]] = time.monotonic()
                mine, unanswered = mine + 1, unanswered + 1
            try:
                data = await asyncio.wait_for(reader.read(65536), 0.005)
            except TimeoutError:
                continue
            assert data, "the server closed the connection"
            *lines, buffer = (buffer + data).split(b"\n")
            for line in lines:
                load.echoed[int(line[1:])] = time.monotonic()
            unanswered -= len(lines)
    finally:
        writer.transport.abort()


async def _drive(path: Path) -> tuple[Load, str]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lab.cli", "serve", "tcp-echo", "--port", "0", "-q",
        "--record", str(path), cwd=ROOT, env=ENV,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert server.stdout is not None and server.stderr is not None
    try:
        first = (await asyncio.wait_for(server.stdout.readline(), 20)).decode()
        assert first.startswith("listening on "), first
        port = int(first.rsplit(":", 1)[1])
        load = Load()
        total = int(RATE * SECONDS)
        stop = time.monotonic() + SECONDS
        await asyncio.gather(*(_connection(port, list(range(n, total, CONNECTIONS)), load, stop)
                               for n in range(CONNECTIONS)))
        os.kill(server.pid, signal.SIGKILL)
        load.killed = time.monotonic()
        assert await asyncio.wait_for(server.wait(), 10) == -signal.SIGKILL
        return load, (await server.stderr.read()).decode()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


def _lines(raw: bytes) -> set[int]:
    return {int(line[1:]) for line in raw.split(b"\n") if len(line) == 9 and line[:1] == b"m"}


def test_kill_9_at_10k_messages_a_second_loses_at_most_half_a_second(tmp_path: Path) -> None:
    path = tmp_path / "run.cslab"
    run, stderr = asyncio.run(_drive(path))
    assert "Traceback" not in stderr, stderr
    stored = load(path)  # as kill -9 left it: the WAL beside it
    client: set[int] = set()
    server: set[int] = set()
    for message in stored.messages:
        (client if message.sender.value == "client" else server).update(_lines(message.raw))
    lost = sorted(set(run.sent) - client)
    late = {n: run.killed - run.sent[n] for n in lost}
    oldest = max(late.values(), default=0.0)
    print(f"sent {len(run.sent)} lines in {SECONDS} s, {len(stored.messages)} messages in the "
          f"file, {len(lost)} lines lost, the oldest sent {oldest:.3f} s before the kill")
    assert len(run.sent) >= RATE * SECONDS / 3  # the load was a load
    assert oldest <= LOSS_BOUND + MARGIN, f"lost a line sent {oldest:.3f} s before the kill"
    echoed_lost = [n for n in run.echoed if n not in server]
    assert all(run.killed - run.echoed[n] <= LOSS_BOUND + MARGIN for n in echoed_lost)
    ids = [m.id for m in stored.messages]
    assert ids == list(range(1, len(ids) + 1))  # the file is a prefix: nothing missing inside
    done = cslab("export", str(path), "--format", "jsonl", "-o", str(tmp_path / "out.jsonl"))
    assert done.returncode == 0, done.stderr
