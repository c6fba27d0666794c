"""Issue 16, FTP, with real clients: curl in active mode (PORT, EPRT) checked against a
loopback packet capture, curl -r (426 then 226), wget -r through a symlink, and tshark
on the pcapng export."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from lab import pcapng
from lab.engine import Engine
from lab.model import Connection, Message
from tests.lab.helpers import run
from tests.lab.test_ftp_truth import MEDIUM, _root


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


async def _curl(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-v", "--max-time", "20", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, err.decode(errors="replace")


async def _tcpdump(path: Path) -> asyncio.subprocess.Process | None:
    """tcpdump on the loopback, once it listens (None when it cannot capture here)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "tcpdump", "-i", "lo", "-U", "-n", "-w", str(path), "tcp",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    except OSError:
        return None
    assert proc.stderr is not None
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 10)
    except TimeoutError:
        line = b""
    if b"listening on" not in line:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        return None
    return proc


@pytest.mark.parametrize("verb", ["PORT", "EPRT"])
def test_curl_active_mode_matches_the_loopback(tmp_path: Path, verb: str) -> None:
    _need("curl")
    _need("tcpdump")
    _need("tshark")
    root = _root(tmp_path)
    dump = tmp_path / "lo.pcap"

    async def main() -> tuple[str, list[Message], dict[str, Connection], bool]:
        engine = Engine()
        info = await engine.add_server("ftp", port=0, options={"root": str(root)})
        tcpdump = await _tcpdump(dump)
        extra = ["--disable-eprt"] if verb == "PORT" else []
        code, err = await _curl("--ftp-port", "-", *extra,
                                f"ftp://student:lab@{info.address}/medium.bin")
        assert code == 0, err
        if tcpdump is not None:
            await asyncio.sleep(0.2)  # -U: the last packets reach the file
            tcpdump.terminate()
            await tcpdump.wait()
        await asyncio.sleep(0.1)
        messages, conns = list(engine.capture.messages), dict(engine.capture.connections)
        pcapng.write(messages, conns, tmp_path / "lab.pcapng")
        await engine.shutdown()
        return err, messages, conns, tcpdump is not None

    err, messages, conns, dumped = run(main, 60)
    sent = next(line for line in err.splitlines() if line.startswith(f"> {verb} "))
    port = (int(sent.split(",")[-2]) * 256 + int(sent.split(",")[-1]) if verb == "PORT"
            else int(sent.split("|")[3]))
    reply = next(line for line in err.splitlines() if line.startswith(f"< 200 {verb}"))
    assert f"127.0.0.1:{port}" in reply  # the port curl gave, not the Wire's
    [data] = [c for c in conns.values() if c.protocol == "ftp-data"]
    assert data.client == f"127.0.0.1:{port}"
    server_port = int(data.server.rsplit(":", 1)[1])
    assert sum(m.size for m in messages if m.connection == data.id
               and not m.injected) == len(MEDIUM)
    if not dumped:
        pytest.skip("tcpdump cannot capture on lo here (no permission?)")
    syns = subprocess.run(
        ["tshark", "-r", str(dump), "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
         "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport"],
        capture_output=True, text=True, timeout=60).stdout.split("\n")
    # The connection curl saw: the server's side (the Wire) opened it, to curl's port.
    assert f"{server_port}\t{port}" in syns, (server_port, port, syns)


def test_curl_range_gets_the_truth_from_the_server_and_the_capture(tmp_path: Path) -> None:
    _need("curl")
    root = _root(tmp_path)

    async def main() -> tuple[str, list[Message]]:
        engine = Engine()
        info = await engine.add_server("ftp", port=0, options={"root": str(root)})
        _, err = await _curl("-r", "0-99", f"ftp://student:lab@{info.address}/medium.bin")
        await asyncio.sleep(0.1)
        messages = list(engine.capture.messages)
        await engine.shutdown()
        return err, messages

    err, messages = run(main, 60)
    replies = [line[2:] for line in err.splitlines() if line.startswith("< ")]
    after = replies[next(i for i, r in enumerate(replies) if r.startswith("150")) + 1:]
    # ABOR always has its own 226, after the transfer's reply (never "nothing to abort")
    assert after[1].startswith("226 ABOR"), after
    captured = [m.summary for m in messages if m.protocol == "ftp" and not m.injected]
    assert after[0] in captured
    data = [m for m in messages if m.protocol == "ftp-data" and not m.injected]
    delivered = sum(m.size - m.undelivered for m in data)
    notes = [m.summary for m in messages if m.injected and "never delivered" in m.summary]
    if after[0].startswith("426 RETR medium.bin"):
        return  # curl's reset reached the server (the Wire passes a reset on)
    # The server handed every byte on and saw the data connection end cleanly: curl's
    # TCP had taken them all (it reads past its range and drops the rest), or the Wire
    # holds what never reached curl, and the capture says how much.
    assert after[0] == "226 RETR medium.bin: 204800 bytes sent", after
    if delivered < len(MEDIUM):
        assert notes and notes[0].startswith(f"{len(MEDIUM) - delivered:,} bytes read from "
                                             "the server were never delivered"), notes
    else:
        assert not notes, notes


def test_wget_recursive_fetches_a_symlinked_file(tmp_path: Path) -> None:
    _need("wget")
    root = _root(tmp_path)
    (root / "medium.bin").unlink()
    out = tmp_path / "out"

    async def main() -> int:
        engine = Engine()
        info = await engine.add_server("ftp", port=0, options={"root": str(root)})
        proc = await asyncio.create_subprocess_exec(
            "wget", "-q", "-r", "-nH", "-P", str(out), "--tries=1", "--timeout=10",
            f"ftp://student:lab@{info.address}/",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        code = await asyncio.wait_for(proc.wait(), 60)
        await engine.shutdown()
        return code

    assert run(main, 90) == 0
    assert (out / "real.txt").read_text() == "hi\n"
    assert (out / "link.txt").read_text() == "hi\n"  # a link to it, or a copy


def test_tshark_decodes_an_eprt_data_connection_as_ftp_data(tmp_path: Path) -> None:
    _need("curl")
    _need("tshark")
    root = _root(tmp_path)

    async def main() -> int:
        engine = Engine()
        info = await engine.add_server("ftp", port=0, options={"root": str(root)})
        code, err = await _curl("--ftp-port", "-", f"ftp://student:lab@{info.address}/real.txt")
        assert code == 0, err
        await asyncio.sleep(0.1)
        pcapng.write(engine.capture.messages, engine.capture.connections,
                     tmp_path / "lab.pcapng")
        await engine.shutdown()
        return int(info.address.rsplit(":", 1)[1])

    port = run(main, 60)
    found = subprocess.run(
        ["tshark", "-r", str(tmp_path / "lab.pcapng"), "-d", f"tcp.port=={port},ftp",
         "-Y", "ftp-data", "-T", "fields", "-e", "ftp-data.setup-method"],
        capture_output=True, text=True, timeout=60).stdout.split()
    assert found and set(found) == {"EPRT"}, found
