"""Fixtures for the mail integration tests: servers that stop themselves, odd certificates."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme

from tests.support.misbehaving import RunningRaw, Script, start_raw
from tests.support.smtpd import RunningSmtpd, start_smtpd


class Servers:
    """Starts aiosmtpd and scripted servers in the test's loop; all stop at teardown."""

    def __init__(self) -> None:
        self._smtpds: list[RunningSmtpd] = []
        self._raws: list[RunningRaw] = []

    async def smtpd(self, **options: Any) -> RunningSmtpd:
        server = await start_smtpd(**options)
        self._smtpds.append(server)
        return server

    async def raw(self, script: Script, *, host: str = "127.0.0.1") -> RunningRaw:
        server = await start_raw(script, host=host)
        self._raws.append(server)
        return server

    async def stop(self) -> None:
        for raw in self._raws:
            await raw.stop()
        for smtpd in self._smtpds:
            await smtpd.stop()


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    running = Servers()
    yield running
    await running.stop()


def _server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


@pytest.fixture(scope="session")
def wrong_name_tls(ca: trustme.CA) -> ssl.SSLContext:
    """Signed by the trusted CA, but only for ``other.example.test``."""
    return _server_context(ca.issue_cert("other.example.test"))


@pytest.fixture(scope="session")
def expired_tls(ca: trustme.CA) -> ssl.SSLContext:
    """Signed by the trusted CA for the right names, expired yesterday."""
    now = datetime.now(UTC)
    leaf = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    return _server_context(leaf)
