"""Fixtures for OAuth and secret-reference tests: a token endpoint and an XOAUTH2 relay
in the test's loop, and an API runtime whose token cache runs on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smtp_profile.oauth.cache import TokenCache
from smtp_profile.runtime import Runtime, open_runtime
from tests.conftest import add_users, api_client, make_settings
from tests.mail.helpers import FakeResolver, assert_transcript
from tests.oauth.relay import OAuthRelay, start_oauth_relay
from tests.oauth.token_server import SCOPE, FakeClock, TokenEndpoint

CLIENT_ID = "5f0e7a52-6c1b-4d7e-9a51-app-client-id"
CLIENT_SECRET = "Cl1ent~Secret.value_" + "x" * 12
MAILBOX = "alerts@example.test"
V2 = {"X-Keyfactor-Api-Version": "2"}
TEST_PATH = "/KeyfactorAPI/SMTP/Test"
SMTP_PATH = "/KeyfactorAPI/SMTP"


def oauth_body(relay_port: int, endpoint_url: str, **overrides: object) -> dict[str, object]:
    """A version 2 profile with RelayAuthenticationType 3 (plain SMTP to loopback)."""
    body: dict[str, object] = {
        "Host": "127.0.0.1",
        "Port": relay_port,
        "UseSSL": False,
        "RelayAuthenticationType": 3,
        "ClientId": {"SecretValue": CLIENT_ID},
        "ClientSecret": {"SecretValue": CLIENT_SECRET},
        "TokenEndpoint": endpoint_url,
        "Scope": SCOPE,
        "SenderAccount": MAILBOX,
        "SenderName": "Certificate Alerts",
    }
    body.update(overrides)
    return body


def send_body(relay_port: int, endpoint_url: str, **overrides: object) -> dict[str, object]:
    return {
        **oauth_body(relay_port, endpoint_url, **overrides),
        "TestRecipient": "ops@example.test",
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def endpoint(clock: FakeClock) -> AsyncIterator[TokenEndpoint]:
    server = await TokenEndpoint(clients={CLIENT_ID: CLIENT_SECRET}, clock=clock).start()
    yield server
    await server.stop()


@pytest.fixture
async def relay(endpoint: TokenEndpoint) -> AsyncIterator[OAuthRelay]:
    server = await start_oauth_relay(endpoint)
    yield server
    await server.stop()


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver({"login.example.test": ["127.0.0.1"], "relay.example.test": ["127.0.0.1"]})


def open_oauth_runtime(
    data_dir: Path, ca_file: Path, resolver: FakeResolver, clock: FakeClock, **overrides: object
) -> Runtime:
    values: dict[str, object] = {"ca_file": ca_file, "command_timeout": 1.0, **overrides}
    runtime = open_runtime(make_settings(data_dir, **values), resolver=resolver)
    runtime.service.logins.tokens = TokenCache(clock=clock)
    add_users(runtime)
    return runtime


@pytest.fixture
def oauth_runtime(
    tmp_path: Path, ca_file: Path, resolver: FakeResolver, clock: FakeClock
) -> Iterator[Runtime]:
    runtime = open_oauth_runtime(tmp_path / "data", ca_file, resolver, clock)
    yield runtime
    runtime.close()


@pytest.fixture
async def api(oauth_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(oauth_runtime) as http:
        http.headers.update(V2)
        yield http


def assert_sent_v2(response: httpx.Response) -> dict[str, Any]:
    """A successful version 2 Test: the diagnosis, and secrets echoed without values."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["Success"] is True and body["Failure"] is None, body
    assert_transcript(body["Transcript"])
    for name in ("RelayUsername", "RelayPassword", "ClientId", "ClientSecret"):
        assert body[name] is None or body[name]["SecretValue"] is None, body[name]
    return body
