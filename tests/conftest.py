"""Shared fixtures: settings in a temp data directory, an app with users, TLS material."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from argon2 import PasswordHasher

from smtp_profile.api.app import create_app
from smtp_profile.runtime import Runtime, open_runtime
from smtp_profile.settings import Settings
from smtp_profile.store.users import insert_user
from tests.support.smtpd import RunningSmtpd, start_smtpd

pytest_plugins = ["tests.pg.plugin", "tests.relay.plugin"]

ADMIN = ("admin", "admin-password-123")
READER = ("reader", "reader-password-123")
API_HEADERS = {"X-Keyfactor-Requested-With": "APIClient"}
# Verification reads the cost from the hash, so cheap test hashes keep the suite fast
# while the service itself hashes with argon2's defaults.
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def untrusted_server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "helo_name": "client.example.test",
        "connect_timeout": 2.0,
        "command_timeout": 2.0,
        "test_timeout": 5.0,
        "auth_cache_seconds": 30.0,
        "test_rate_limit": 0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, ca_file: Path) -> Settings:
    return make_settings(tmp_path / "data", ca_file=ca_file)


def add_users(runtime: Runtime) -> None:
    with runtime.database.write() as connection:
        insert_user(
            connection, name=ADMIN[0], role="admin", password_hash=_CHEAP_HASHER.hash(ADMIN[1])
        )
        insert_user(
            connection, name=READER[0], role="reader", password_hash=_CHEAP_HASHER.hash(READER[1])
        )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    add_users(runtime)
    yield runtime
    runtime.close()


def api_client(runtime: Runtime, auth: tuple[str, str] | None = ADMIN) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime))
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=API_HEADERS, auth=auth
    )


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(runtime) as http:
        yield http


@pytest.fixture
async def reader_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(runtime, READER) as http:
        yield http


@pytest.fixture
async def smtpd() -> AsyncIterator[RunningSmtpd]:
    server = await start_smtpd()
    yield server
    await server.stop()


def profile_body(port: int = 25, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "Host": "127.0.0.1",
        "Port": port,
        "RelayAuthenticationType": 0,
        "SenderAccount": "alerts@example.test",
        "SenderName": "Certificate Alerts",
        "UseSSL": False,
    }
    body.update(overrides)
    return body
