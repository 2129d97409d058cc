"""Raw asyncio servers that misbehave on purpose, for the sender's failure paths.

:func:`start_raw` runs a tiny scripted SMTP speaker on an address (127.0.0.1, port 0 by
default) in the test's own event loop. By default it behaves: it greets, answers EHLO,
MAIL, RCPT, DATA and QUIT. A :class:`Script` replaces any of those answers with an
:data:`Action`: other reply bytes, :class:`Stall` (send a part, then never finish) or
:class:`Drop` (send a part, then close). Ready-made scripts: :func:`never_greet`,
:func:`greet_then_drop`, :func:`garbage`, :func:`busy_421`, :func:`plain_smtp` (speaks
plain SMTP where the client expects TLS).

:func:`full_backlog` gives a port whose accept queue is full, so that a TCP connect
to it neither succeeds nor is refused (a connect timeout, without leaving the host).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

RAW_NAME = "raw.example.test"
GREETING = f"220 {RAW_NAME} ESMTP ready\r\n".encode()


@dataclass(frozen=True)
class Stall:
    """Send ``partial`` (maybe nothing), then never answer again (until the client leaves)."""

    partial: bytes = b""


@dataclass(frozen=True)
class Drop:
    """Send ``before`` (maybe nothing), then close the connection."""

    before: bytes = b""


Action = bytes | Stall | Drop


def ehlo_reply(*extensions: str, name: str = RAW_NAME) -> bytes:
    lines = [name, *extensions]
    return b"".join(
        f"250{'-' if index < len(lines) - 1 else ' '}{line}\r\n".encode()
        for index, line in enumerate(lines)
    )


DEFAULT_REPLIES: dict[str, Action] = {
    "EHLO": ehlo_reply("8BITMIME", "SMTPUTF8"),
    "HELO": f"250 {RAW_NAME}\r\n".encode(),
    "MAIL": b"250 2.1.0 OK\r\n",
    "RCPT": b"250 2.1.5 OK\r\n",
    "DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    ".": b"250 2.0.0 queued as RAW1\r\n",
    "AUTH": b"235 2.7.0 Authentication successful\r\n",
    "STARTTLS": b"454 4.7.0 TLS not available\r\n",
    "RSET": b"250 2.0.0 OK\r\n",
    "NOOP": b"250 2.0.0 OK\r\n",
    "QUIT": Drop(b"221 2.0.0 Bye\r\n"),
}


@dataclass
class Script:
    """What the server says: ``greeting`` on connect, ``replies`` by command verb
    (``"."`` is the end of the message data); verbs not listed get the default."""

    greeting: Action = GREETING
    replies: dict[str, Action] = field(default_factory=dict)

    def reply(self, verb: str) -> Action:
        if verb in self.replies:
            return self.replies[verb]
        return DEFAULT_REPLIES.get(verb, b"502 5.5.2 Command not recognized\r\n")


def never_greet() -> Script:
    """Accepts the TCP connection and says nothing at all."""
    return Script(greeting=Stall())


def greet_then_drop() -> Script:
    """Greets properly, then closes the connection before any command."""
    return Script(greeting=Drop(GREETING))


def garbage() -> Script:
    """Greets with something that is not SMTP (an IMAP server's banner)."""
    return Script(greeting=b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n")


def busy_421() -> Script:
    """Refuses the session at the greeting with 421 and closes."""
    return Script(greeting=Drop(b"421 4.3.2 Service not available, closing channel\r\n"))


def plain_smtp() -> Script:
    """Plain SMTP from the first byte: what a client expecting TLS must not mistake."""
    return Script()


@dataclass
class RunningRaw:
    host: str
    port: int
    script: Script
    server: asyncio.Server
    commands: list[str] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    connections: int = 0
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def verbs(self) -> list[str]:
        return [_verb(command) for command in self.commands]

    async def stop(self) -> None:
        """Close the listener; conversations end when their client leaves (the sender
        always closes), and any still running after a second are cancelled."""
        self.server.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=1.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await self.server.wait_closed()


def _verb(line: str) -> str:
    return line.split(" ", 1)[0].split(":", 1)[0].upper()


async def start_raw(script: Script, *, host: str = "127.0.0.1") -> RunningRaw:
    """Start a scripted server on ``host``, port 0; stop it with :meth:`RunningRaw.stop`."""
    state: list[RunningRaw] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        running = state[0]
        task = asyncio.current_task()
        assert task is not None
        running._tasks.add(task)
        running.connections += 1
        try:
            await _converse(running, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # stop(): end quietly (3.11's streams callback chokes on a cancelled task)
        finally:
            running._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(on_client, host=host, port=0)
    port = server.sockets[0].getsockname()[1]
    running = RunningRaw(host, port, script, server)
    state.append(running)
    return running


async def _act(action: Action, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Perform ``action``; False when the conversation is over."""
    if isinstance(action, bytes):
        writer.write(action)
        await writer.drain()
        return True
    if isinstance(action, Drop):
        if action.before:
            writer.write(action.before)
            await writer.drain()
        return False
    if action.partial:
        writer.write(action.partial)
        await writer.drain()
    while await reader.read(4096):  # ignore everything until the client leaves
        pass
    return False


async def _converse(
    running: RunningRaw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    script = running.script
    if not await _act(script.greeting, reader, writer):
        return
    while True:
        raw = await reader.readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        running.commands.append(line)
        verb = _verb(line)
        if not await _act(script.reply(verb), reader, writer):
            return
        if verb == "DATA" and _is_go_ahead(script.reply(verb)):
            content = await _read_data(reader)
            running.messages.append(content)
            running.commands.append(".")
            if not await _act(script.reply("."), reader, writer):
                return


def _is_go_ahead(action: Action) -> bool:
    return isinstance(action, bytes) and action.startswith(b"354")


async def _read_data(reader: asyncio.StreamReader) -> bytes:
    lines: list[bytes] = []
    while True:
        raw = await reader.readline()
        if not raw or raw == b".\r\n":
            return b"".join(lines)
        lines.append(raw[1:] if raw.startswith(b"..") else raw)


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A 127.0.0.1 port whose listen queue is full: new connects hang (no SYN-ACK).

    Yields the port; the caller should check that a connect really hangs on this
    kernel (Linux drops SYNs to a full queue) and skip otherwise.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(2):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def connect_hangs(port: int, timeout: float = 0.2) -> bool:
    """True when a TCP connect to 127.0.0.1:``port`` does not complete within ``timeout``."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(timeout)
    try:
        probe.connect(("127.0.0.1", port))
    except TimeoutError:
        return True
    except OSError:
        return False
    finally:
        probe.close()
    return False


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None.

    Uses a UDP ``connect`` (which sends nothing) to documentation addresses to learn
    which local address the kernel would use.
    """
    for target in ("192.0.2.1", "198.51.100.1", "203.0.113.1", "10.255.255.254"):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect((target, 9))
            address = str(probe.getsockname()[0])
        except OSError:
            continue
        finally:
            probe.close()
        if not address.startswith("127.") and address != "0.0.0.0":
            return address
    return None
