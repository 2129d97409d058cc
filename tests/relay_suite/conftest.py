"""Fixtures of the real-MTA suite: API runtimes over the session's Postfix + Dovecot bed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from smtp_profile.mail.sender import Resolver, system_resolver
from tests.relay.bed import RunningBed
from tests.relay_suite.support import (
    RelayApi,
    ServerCertificate,
    TlsFront,
    base_settings,
    front_context,
    relay_api,
    server_certificate,
)

OpenApi = Callable[..., Awaitable[RelayApi]]


@pytest.fixture(scope="session")
def bed_certificate(relay_bed: RunningBed) -> ServerCertificate:
    return server_certificate(relay_bed)


@pytest.fixture
async def open_api(tmp_path: Path, relay_bed: RunningBed) -> AsyncIterator[OpenApi]:
    """``await open_api(resolver=..., **settings)``: an API over a fresh runtime whose
    settings trust the bed's CA and treat its smtps port as implicit TLS."""
    async with contextlib.AsyncExitStack() as stack:
        count = 0

        async def open_(resolver: Resolver = system_resolver, **overrides: object) -> RelayApi:
            nonlocal count
            count += 1
            settings = {**base_settings(relay_bed), **overrides}
            return await stack.enter_async_context(
                relay_api(tmp_path / f"data{count}", resolver=resolver, **settings)
            )

        yield open_


@pytest.fixture
async def api(open_api: OpenApi) -> RelayApi:
    return await open_api()


@pytest.fixture
async def login_front(relay_bed: RunningBed) -> AsyncIterator[TlsFront]:
    """The bed's smtps listener with EHLO advertising ``AUTH LOGIN`` only, behind an
    implicit-TLS front that presents the bed's own certificate."""
    chain = relay_bed.workdir / "tls" / "server-key-chain.pem"
    front = await TlsFront(relay_bed, front_context(chain), advertise="LOGIN").start()
    yield front
    await front.stop()
