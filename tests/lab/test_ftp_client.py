"""The FTP file client against the lab's FTP server, over real sockets through its
Wire: passive and active transfers, file management, refusals, cancel."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from lab.clients.ftp import Entry, FtpClient, FtpClientError
from lab.clients.ftp_actions import FtpView
from lab.engine import Engine
from lab.model import Message, Outcome
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


def test_a_refused_transfer_leaves_no_data_connection_open(tmp_path: Path) -> None:
    """A download the server refuses (550) after the client opened its passive data
    connection: the client closes that connection (aioftp left it open: one socket
    and one Wire link per refusal, for the rest of the session)."""
    tree(tmp_path)

    async def body(client: FtpClient, server: str, engine: Engine) -> None:
        await client.connect(server, "anonymous", "me@lab.test")
        for _ in range(3):
            with pytest.raises(FtpClientError, match="550"):
                await client.download("missing.txt", tmp_path)

        async def open_data() -> list[str]:
            """The data connections still open, once the first two have closed."""
            for _ in range(250):
                data = [c for c in engine.capture.connections.values()
                        if c.protocol == "ftp-data"]
                if len(data) == 3 and all(c.closed is not None for c in data[:2]):
                    break
                await asyncio.sleep(0.02)
            return [c.id for c in data if c.closed is None]

        # each new EPSV lets the server close the last; the client closed its ends
        assert len(await open_data()) <= 1 and client.connected
        await client.close()  # the session's end closes the server's last one
        for _ in range(250):
            if not await open_data():
                break
            await asyncio.sleep(0.02)
        assert await open_data() == []

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


# ---- act: the verbs panels and lessons use (engine.client_act) --------------------------


def ftp_view(engine: Engine, node: str) -> FtpView:
    view = engine.client_state(node).view
    assert isinstance(view, FtpView)
    return view


def test_act_verbs_show_in_the_view(tmp_path: Path) -> None:
    root, local = tmp_path / "served", tmp_path / "local"
    root.mkdir()
    local.mkdir()
    tree(root)
    (local / "up.txt").write_bytes(b"up" * 1000)

    async def main() -> Engine:
        engine = Engine()
        try:
            server = await engine.add_server("ftp", port=0, options={"root": str(root)})
            node = (await engine.add_client("ftp", settings={
                "server": server.address, "user": "student", "password": "lab",
                "passive": False})).id

            async def act(verb: str, *args: str) -> Outcome:
                outcome = await engine.client_act(node, verb, args)
                assert outcome.ok, outcome.shown
                return outcome

            await act("connect")
            view = ftp_view(engine, node)
            assert view.connected and view.mode == "active" and view.cwd == "/"
            assert [e.name for e in view.entries] == ["sub", "a.txt"]
            await act("upload", str(local / "up.txt"))
            view = ftp_view(engine, node)
            assert (root / "up.txt").read_bytes() == (local / "up.txt").read_bytes()
            assert (view.transfer, view.done, view.total, view.result) == (
                "upload up.txt", 2000, 2000, "done")
            assert "up.txt" in [e.name for e in view.entries]
            await act("rename", "up.txt", "moved.txt")
            await act("mkdir", "new")
            assert {"moved.txt", "new"} <= {e.name for e in ftp_view(engine, node).entries}
            await act("delete", "moved.txt")
            await act("rmdir", "new")
            assert [e.name for e in ftp_view(engine, node).entries] == ["sub", "a.txt"]
            await act("cd", "sub")
            assert ftp_view(engine, node).cwd == "/sub"
            got = await act("retr", "b.txt", str(local))
            view = ftp_view(engine, node)
            assert got.values["text"] == "inside\n" and view.result == "done"
            assert view.saved == str(local / "b.txt") and view.done == view.total == 7
            refused = await engine.client_act(node, "retr", ("missing.txt",))
            assert not refused.ok and "550" in ftp_view(engine, node).result
            assert "550" in engine.client_state(node).error
            assert not (await engine.client_act(node, "rename", ("only-one",))).ok
            await act("close")
            assert not ftp_view(engine, node).connected and not ftp_view(engine, node).entries
            await asyncio.sleep(0.2)
        finally:
            await engine.shutdown()
        return engine

    engine = run(main)
    commands = [m.summary.split()[0] for m in engine.capture.messages
                if m.protocol == "ftp" and m.summary[:1].isalpha()]
    assert "PORT" in commands or "EPRT" in commands
    assert "EPSV" not in commands and "PASV" not in commands


def test_cancel_does_not_wait_behind_the_transfer(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"\0" * BIG)

    async def main() -> None:
        engine = Engine()
        try:
            server = await engine.add_server("ftp", port=0, options={"root": str(tmp_path)})
            node = (await engine.add_client("ftp", settings={"server": server.address})).id
            assert (await engine.client_act(node, "connect")).ok
            download = asyncio.ensure_future(engine.client_act(node, "retr", ("big.bin",)))
            while not ftp_view(engine, node).done:
                await asyncio.sleep(0.005)
            assert (await engine.client_act(node, "cancel")).ok
            outcome = await download
            assert not outcome.ok and outcome.shown == "cancelled"
            view = ftp_view(engine, node)
            assert view.transfer == "download big.bin" and view.result == "cancelled"
            assert 0 < view.done < BIG
            assert (await engine.client_act(node, "list")).ok  # still usable
        finally:
            await engine.shutdown()

    run(main)
