"""Shared pieces of the hardening suites: a resolver that never asks DNS, credentials,
a port that refuses every connection, a threaded SMTP sink, and the README's error table."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

README = Path(__file__).resolve().parents[2] / "README.md"
ERROR_CODE = re.compile(r"^0xA0[0-9A-F]{6}$")


class NameLookups:
    """A resolver for ``open_runtime(resolver=...)``: every name fails like NXDOMAIN and is
    recorded. No request of the hardening suites ever reaches the system resolver."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (hardening tests)")


def basic(login: str, password: str) -> str:
    """The value of an ``Authorization: Basic`` header."""
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


@contextmanager
def refusing_port() -> Iterator[int]:
    """A 127.0.0.1 port that is bound but never listens: every connect gets a reset at once
    (deterministic 'connection refused'), and no other process can take the port meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SyncClient:
    """A blocking HTTP client for an ASGI app, for synchronous (Hypothesis) tests: httpx's
    ASGI transport driven on an event loop in a thread of its own."""

    def __init__(self, app: Any, *, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        call = self._client.request(method, url, **kwargs)
        return asyncio.run_coroutine_threadsafe(call, self._loop).result(self._timeout)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(self._timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout)
        self._loop.close()


@dataclass
class SinkHandler:
    """Accepts every message (anonymous, no TLS) and counts them."""

    delivered: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.delivered.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 2.0.0 queued"


@dataclass
class Sink:
    port: int
    handler: SinkHandler


@contextmanager
def smtp_sink() -> Iterator[Sink]:
    """aiosmtpd on 127.0.0.1 in its own thread (usable from synchronous tests)."""
    handler = SinkHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="sink.example.test",
        enable_SMTPUTF8=True,
    )
    controller.start()
    try:
        yield Sink(controller.port, handler)
    finally:
        controller.stop()


_lock = threading.Lock()
_table: dict[str, int] | None = None


def readme_error_codes() -> dict[str, int]:
    """ErrorCode -> HTTP status, from the README's error table (ranges expanded)."""
    global _table
    with _lock:
        if _table is None:
            table: dict[str, int] = {}
            row = re.compile(r"^\| `(0xA0[0-9A-F]{6})`(?:-`(0xA0[0-9A-F]{6})`)? \| (\d{3}) \|")
            for line in README.read_text(encoding="utf-8").splitlines():
                match = row.match(line)
                if match is None:
                    continue
                first, last, status = match.group(1), match.group(2) or match.group(1), match[3]
                for value in range(int(first, 16), int(last, 16) + 1):
                    table[f"0x{value:08X}"] = int(status)
            _table = table
        return dict(_table)


def assert_error_body(body: Any, status: int, code: str | None = None) -> None:
    """The spec's error format: a JSON object with non-empty ErrorCode and Message, the code
    in README's table with this status (and equal to ``code`` when given)."""
    assert isinstance(body, dict), body
    assert isinstance(body.get("ErrorCode"), str) and ERROR_CODE.fullmatch(body["ErrorCode"]), body
    assert isinstance(body.get("Message"), str) and body["Message"].strip(), body
    table = readme_error_codes()
    assert table.get(body["ErrorCode"]) == status, (
        f"{body['ErrorCode']} with HTTP {status} is not in README's table ({body})"
    )
    if code is not None:
        assert body["ErrorCode"] == code, body
