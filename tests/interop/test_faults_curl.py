"""curl through a Wire that resets at message 3: curl's first exchange completes,
its second request on the kept-alive connection is met with a reset, and curl
retries it on a new connection (which counts from 1 again)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from lab.engine import Engine
from tests.lab.helpers import run
from tests.lab.test_wire import until

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def test_curl_keep_alive_is_reset_at_its_second_request() -> None:
    async def main() -> None:
        engine = Engine()
        try:
            info = await engine.add_server("http", port=0)
            engine.wire_board.set_faults(info.id, reset_at_message=3)
            url = f"http://{info.address}/"
            curl = await asyncio.create_subprocess_exec(
                "curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-o", "/dev/null",
                "-w", "%{http_code}\n", url, url, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            out, err = await curl.communicate()
            capture = engine.capture
            await until(lambda: all(c.closed is not None
                                    for c in capture.connections.values()))
        finally:
            await engine.shutdown()
        first, *retries = capture.connections.values()
        assert [m.summary for m in capture.messages if m.connection == first.id] == [
            "GET /", "200 OK", "GET /", "Wire reset the connection at message 3"]
        assert [m.injected for m in capture.messages].count(True) == 1
        assert first.note == "reset by the Wire at message 3"
        if curl.returncode == 0:  # curl retried the request on a new connection
            assert out.split() == [b"200", b"200"]
            assert [m.summary for m in capture.messages
                    if m.connection == retries[0].id] == ["GET /", "200 OK"]
        else:  # a curl that does not retry reports the reset
            assert b"reset" in err.lower() or curl.returncode == 56, err

    run(main)
