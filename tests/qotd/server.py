"""The qotd server: a line-based "quote of the day".

``QUOTE`` → ``200 <today's quote>``; ``QUOTE N`` → ``200 <quote N>`` (``404 no
quote N`` past the end); anything else → ``500 unknown command``.
"""

from __future__ import annotations

import asyncio

from lab.servers import Backend

QUOTES = ("Talk is cheap. Show me the code.", "Simple is better than complex.",
          "Errors should never pass silently.")


def answer(line: str) -> str:
    verb, _, arg = line.strip().partition(" ")
    if verb.upper() != "QUOTE":
        return "500 unknown command"
    if not arg:
        return f"200 {QUOTES[0]}"
    if arg.isdigit() and 1 <= int(arg) <= len(QUOTES):
        return f"200 {QUOTES[int(arg) - 1]}"
    return f"404 no quote {arg}"


class QotdBackend:
    def __init__(self) -> None:
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.address = self._server.sockets[0].getsockname()[:2]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                writer.write(answer(line.decode("utf-8", "replace")).encode() + b"\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()


async def start_qotd(options: dict[str, str]) -> Backend:
    backend = QotdBackend()
    await backend.start()
    return backend
