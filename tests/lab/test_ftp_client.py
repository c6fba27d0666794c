"""The FTP file client against the lab's FTP server, over real sockets through its
Wire: passive and active transfers, file management, refusals, cancel."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from lab.clients.ftp import Entry, FtpClient, FtpClientError
from lab.engine import Engine
from lab.model import Message
from tests.lab.helpers import run

CONTENT = b"hello ftp\n" * 5000
BIG = 20 * 1_000_000


def tree(root: Path) -> None:
    (root / "a.txt").write_bytes(CONTENT)
    (root / "sub").mkdir()
    (root / "sub" / "b.txt").write_bytes(b"inside\n")


async def with_client(root: Path,
                      body: Callable[[FtpClient, str, Engine], Awaitable[None]]) -> Engine:
    """Start a lab FTP server on ``root`` and an FTP client; run ``body``; shut down."""
    engine = Engine()
    try:
        info = await engine.add_server("ftp", port=0, options={"root": str(root)})
        client = engine.client_object((await engine.add_client("ftp")).id)
        assert isinstance(client, FtpClient)
        await body(client, info.address, engine)
        await asyncio.sleep(0.2)  # let the capture see the last data connection end
    finally:
        await engine.shutdown()
    return engine


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_browse_transfer_and_manage_files(tmp_path: Path, passive: bool) -> None:
    root, local = tmp_path / "served", tmp_path / "local"
    root.mkdir()
    local.mkdir()
    tree(root)
    (local / "up.bin").write_bytes(os.urandom(300_000))

    async def body(client: FtpClient, server: str, engine: Engine) -> None:
        assert await client.connect(server, "student", "lab", passive=passive) == "/"
        assert client.connected and client.cwd == "/"
        entries = await client.list()
        assert [(e.name, e.kind) for e in entries] == [("sub", "dir"), ("a.txt", "file")]
        assert entries[1].size == len(CONTENT) and entries[1].modified[:2] == "20"
        assert await client.cd("sub") == "/sub"
        assert [e.name for e in await client.list()] == ["b.txt"]
        assert await client.cd("..") == "/"
        assert await client.cd("/sub") == "/sub"
        assert await client.cd("/") == "/"

        seen: list[tuple[int, int]] = []
        got = await client.download("a.txt", local, lambda d, t: seen.append((d, t)))
        assert got == local / "a.txt" and got.read_bytes() == CONTENT
        dones = [d for d, _ in seen]
        assert dones == sorted(dones) and len(set(dones)) == len(dones)
        assert seen[-1] == (len(CONTENT), len(CONTENT))

        ups: list[tuple[int, int]] = []
        assert await client.upload(local / "up.bin", lambda d, t: ups.append((d, t))) == "up.bin"
        assert (root / "up.bin").read_bytes() == (local / "up.bin").read_bytes()
        assert ups[-1] == (300_000, 300_000)

        await client.rename("up.bin", "moved.bin")
        assert not (root / "up.bin").exists() and (root / "moved.bin").is_file()
        await client.mkdir("new")
        assert (root / "new").is_dir()
        assert Entry in {type(e) for e in await client.list()}
        await client.rmdir("new")
        assert not (root / "new").exists()
        await client.delete("moved.bin")
        assert not (root / "moved.bin").exists()

        with pytest.raises(FtpClientError, match="550"):
            await client.download("missing.txt", local)
        assert not (local / "missing.txt").exists()
        assert [e.name for e in await client.list()] == ["sub", "a.txt"]  # still usable
        await client.close()
        assert not client.connected

    engine = run(lambda: with_client(root, body))
    messages: list[Message] = list(engine.capture.messages)
    conns = engine.capture.connections.values()
    control = {c.id for c in conns if c.protocol == "ftp"}
    data = [c for c in conns if c.protocol == "ftp-data"]
    assert data and all(c.parent in control for c in data)
    summaries = {m.summary for m in messages if m.protocol == "ftp-data"}
    assert f"RETR a.txt: {len(CONTENT) / 1000:.1f} kB" in summaries
    assert "STOR up.bin: 300.0 kB" in summaries


def test_refusals_are_sentences(tmp_path: Path) -> None:
    tree(tmp_path)
    (tmp_path / "up.txt").write_bytes(b"x")

    async def body(client: FtpClient, server: str, engine: Engine) -> None:
        with pytest.raises(FtpClientError, match="530"):
            await client.connect(server, "student", "wrong")
        assert not client.connected
        await client.connect(server, "anonymous", "me@lab.test")
        assert [e.name for e in await client.list()] == ["sub", "a.txt", "up.txt"]
        with pytest.raises(FtpClientError, match="550.*anonymous"):
            await client.upload(tmp_path / "up.txt")
        with pytest.raises(FtpClientError, match="550"):
            await client.delete("a.txt")
        assert (tmp_path / "a.txt").exists()
        with pytest.raises(FtpClientError, match="not connected"):
            await FtpClient(engine.route).list()
        with pytest.raises(FtpClientError, match="cannot connect"):
            await FtpClient(engine.route).connect("127.0.0.1:1", "a", "b")

    run(lambda: with_client(tmp_path, body))


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_cancel_a_large_download(tmp_path: Path, passive: bool) -> None:
    root, local = tmp_path / "served", tmp_path / "local"
    root.mkdir()
    local.mkdir()
    (root / "big.bin").write_bytes(b"\0" * BIG)

    async def body(client: FtpClient, server: str, engine: Engine) -> None:
        await client.connect(server, "student", "lab", passive=passive)
        seen: list[int] = []

        def progress(done: int, total: int) -> None:
            seen.append(done)
            if done >= BIG // 10:
                client.cancel()

        with pytest.raises(FtpClientError, match="^cancelled$"):
            await client.download("big.bin", local, progress)
        assert 0 < seen[-1] < BIG
        assert not (local / "big.bin").exists()
        assert [e.name for e in await client.list()] == ["big.bin"]
        done = await client.download("big.bin", local)  # and a whole one after that
        assert done.stat().st_size == BIG

    engine = run(lambda: with_client(root, body))
    summaries = [m.summary for m in engine.capture.messages if m.protocol == "ftp-data"]
    assert "RETR big.bin: 20.0 MB" in summaries
