"""A TCP relay on the loopback that records what passes, to find the SASL tokens.

The client connects to the wiretap's port; every byte goes on to the real server and
back unchanged. Afterwards :meth:`Wiretap.tokens` lists the base64 tokens of the AUTH
exchange in both directions (the client's responses and the server's 334 challenges),
so a test can check that none of them reached a transcript or an API response.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field

_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


@dataclass
class Wiretap:
    upstream_host: str
    upstream_port: int
    from_client: bytearray = field(default_factory=bytearray)
    from_server: bytearray = field(default_factory=bytearray)
    port: int = 0
    _server: asyncio.base_events.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> Wiretap:
        self._server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, self.from_client)),
            asyncio.create_task(self._pump(up_reader, writer, self.from_server)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        for stream in (writer, up_writer):
            stream.close()

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: bytearray
    ) -> None:
        while data := await reader.read(65536):
            seen.extend(data)
            writer.write(data)
            await writer.drain()

    def tokens(self) -> list[str]:
        """The base64 tokens of the AUTH exchange, both directions."""
        client = self.from_client.decode("ascii", "replace").splitlines()
        server = self.from_server.decode("ascii", "replace").splitlines()
        found = [line for line in client if _BASE64_LINE.fullmatch(line.strip())]
        found += [
            line[4:].strip()
            for line in server
            if line.startswith("334 ") and _BASE64_LINE.fullmatch(line[4:].strip())
        ]
        return found
