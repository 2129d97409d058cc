"""A scripted SMTP peer that controls how its bytes are cut into TCP segments.

Like ``tests/support/misbehaving.py`` (which sends each reply in one write), plus what
that one cannot do: send a reply as several segments with pauses between them
(:class:`Pieces`, :func:`dribble`, :func:`cut`), stream without end (:class:`Endless`),
answer and then keep silent while recording what the client sends (:class:`Listen`, e.g.
a TLS ClientHello that is never answered). Runs in the test's event loop on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

NAME = "peer.example.test"
GREETING = f"220 {NAME} ESMTP\r\n".encode()
EHLO = f"250-{NAME}\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".encode()


@dataclass(frozen=True)
class Pieces:
    """Send ``parts`` as separate writes ``gap`` seconds apart, then ``then``."""

    parts: tuple[bytes, ...]
    gap: float = 0.0
    then: Literal["go-on", "close", "stall"] = "go-on"


@dataclass(frozen=True)
class Endless:
    """Send ``head`` once, then ``unit`` again and again (``gap`` apart) until the client
    leaves."""

    head: bytes
    unit: bytes
    gap: float = 0.0


@dataclass(frozen=True)
class Listen:
    """Send ``reply`` (maybe nothing), then read and record everything, answering nothing."""

    reply: bytes = b""


Action = bytes | Pieces | Endless | Listen


def dribble(data: bytes, *, size: int = 1, gap: float = 0.001) -> Pieces:
    """``data`` a few bytes at a time."""
    return Pieces(tuple(data[i : i + size] for i in range(0, len(data), size)), gap)


def cut(data: bytes, *at: int, gap: float = 0.02) -> Pieces:
    """``data`` cut at the given offsets."""
    edges = [0, *at, len(data)]
    return Pieces(tuple(data[a:b] for a, b in itertools.pairwise(edges)), gap)


def close(data: bytes = b"") -> Pieces:
    return Pieces((data,) if data else (), then="close")


def stall(data: bytes = b"") -> Pieces:
    return Pieces((data,) if data else (), then="stall")


DEFAULTS: dict[str, Action] = {
    "EHLO": EHLO,
    "HELO": f"250 {NAME}\r\n".encode(),
    "MAIL": b"250 2.1.0 OK\r\n",
    "RCPT": b"250 2.1.5 OK\r\n",
    "DATA": b"354 go ahead\r\n",
    ".": b"250 2.0.0 queued as P1\r\n",
    "AUTH": b"235 2.7.0 Authentication successful\r\n",
    "STARTTLS": b"454 4.7.0 TLS not available\r\n",
    "RSET": b"250 2.0.0 OK\r\n",
    "NOOP": b"250 2.0.0 OK\r\n",
    "QUIT": close(b"221 2.0.0 Bye\r\n"),
}


@dataclass
class Peer:
    greeting: Action = GREETING
    replies: dict[str, Action] = field(default_factory=dict)
    port: int = 0
    commands: list[str] = field(default_factory=list)
    heard: bytearray = field(default_factory=bytearray)  # what Listen recorded
    messages: int = 0
    sent_bytes: int = 0
    finished: int = 0  # conversations over (the client left, or the script closed)

    def verbs(self) -> list[str]:
        return [_verb(line) for line in self.commands]


def _verb(line: str) -> str:
    return line.split(" ", 1)[0].split(":", 1)[0].upper()


async def _act(
    peer: Peer, action: Action, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    """Do ``action``; False when the conversation is over."""
    if isinstance(action, bytes):
        action = Pieces((action,))
    if isinstance(action, Listen):
        await _write(peer, writer, action.reply)
        while chunk := await reader.read(65536):
            peer.heard.extend(chunk)
        return False
    if isinstance(action, Endless):
        await _write(peer, writer, action.head)
        while not reader.at_eof():
            await _write(peer, writer, action.unit)
            await asyncio.sleep(action.gap)
        return False
    for index, part in enumerate(action.parts):
        if index and action.gap:
            await asyncio.sleep(action.gap)
        await _write(peer, writer, part)
    if action.then == "close":
        return False
    if action.then == "stall":
        while await reader.read(65536):
            pass
        return False
    return True


async def _write(peer: Peer, writer: asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(data)
        await writer.drain()
        peer.sent_bytes += len(data)


async def _converse(peer: Peer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if not await _act(peer, peer.greeting, reader, writer):
        return
    while raw := await reader.readline():
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        peer.commands.append(line)
        verb = _verb(line)
        action = peer.replies.get(verb, DEFAULTS.get(verb, b"502 5.5.2 unknown\r\n"))
        if not await _act(peer, action, reader, writer):
            return
        if verb == "DATA" and _go_ahead(action):
            while await reader.readline() not in (b"", b".\r\n"):
                pass
            peer.messages += 1
            peer.commands.append(".")
            final = peer.replies.get(".", DEFAULTS["."])
            if not await _act(peer, final, reader, writer):
                return


def _go_ahead(action: Action) -> bool:
    if isinstance(action, Pieces):
        return action.then == "go-on" and b"".join(action.parts).startswith(b"354")
    return isinstance(action, bytes) and action.startswith(b"354")


@contextlib.asynccontextmanager
async def running(peer: Peer) -> AsyncIterator[Peer]:
    """Serve ``peer`` on 127.0.0.1 (a free port) until the block ends."""
    tasks: set[asyncio.Task[Any]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await _converse(peer, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            tasks.discard(task)
            peer.finished += 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(on_client, host="127.0.0.1", port=0)
    peer.port = int(server.sockets[0].getsockname()[1])
    try:
        yield peer
    finally:
        server.close()
        if tasks:
            _, pending = await asyncio.wait(set(tasks), timeout=1.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await server.wait_closed()
