"""Token endpoint failures are diagnosed like relay failures (step ``token``), and the
token endpoint request obeys the egress policy on the address it connects to."""

from __future__ import annotations

import ssl
from typing import Any

import httpcore
import httpx
import pytest
import trustme

from smtp_profile.mail.diagnosis import Failure, Stage
from tests.mail.helpers import assert_api_failed
from tests.oauth.conftest import SMTP_PATH, TEST_PATH, assert_sent_v2, oauth_body, send_body
from tests.oauth.relay import OAuthRelay
from tests.oauth.token_server import FakeClock, TokenEndpoint
from tests.support.smtpd import start_smtpd


@pytest.mark.parametrize(
    ("mode", "failure"),
    [
        pytest.param("non-json", Failure.TOKEN_BAD_RESPONSE, id="non-json"),
        pytest.param("no-token", Failure.TOKEN_BAD_RESPONSE, id="no-access-token"),
        pytest.param("500", Failure.TOKEN_SERVER_ERROR, id="http-500"),
        pytest.param("redirect", Failure.TOKEN_SERVER_ERROR, id="redirect"),
    ],
)
async def test_endpoint_answers_that_are_not_a_token(
    api: httpx.AsyncClient,
    relay: OAuthRelay,
    endpoint: TokenEndpoint,
    mode: str,
    failure: Failure,
) -> None:
    endpoint.mode = mode
    response = await api.post(TEST_PATH, json=send_body(relay.port, endpoint.url()))
    assert_api_failed(response, Stage.TOKEN, failure)
    assert relay.attempts == []


async def test_unknown_scope_is_invalid_scope(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    body = send_body(relay.port, endpoint.url(), Scope="https://graph.microsoft.com/.default")
    response = await api.post(TEST_PATH, json=body)
    failed = assert_api_failed(response, Stage.TOKEN, Failure.TOKEN_INVALID_SCOPE)
    assert "invalid_scope" in failed["Message"] and "Scope" in failed["Hint"]
    assert len(endpoint.requests) == 1  # not a client problem: no second method is tried


async def test_slow_endpoint_times_out(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    endpoint.mode, endpoint.slow_seconds = "slow", 5.0
    response = await api.post(TEST_PATH, json=send_body(relay.port, endpoint.url()))
    body = assert_api_failed(response, Stage.TOKEN, Failure.TOKEN_TIMEOUT)
    assert body["DurationMs"] < 3000


async def test_closed_port_is_unreachable(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    url = endpoint.url()
    await endpoint.stop()
    response = await api.post(TEST_PATH, json=send_body(relay.port, url))
    assert_api_failed(response, Stage.TOKEN, Failure.TOKEN_UNREACHABLE)


async def test_unknown_host(api: httpx.AsyncClient, relay: OAuthRelay) -> None:
    body = send_body(relay.port, "https://login.nowhere.test/oauth2/v2.0/token")
    assert_api_failed(await api.post(TEST_PATH, json=body), Stage.TOKEN, Failure.TOKEN_UNKNOWN_HOST)


class ConnectSpy:
    """Records every TCP connection httpcore's own backend is asked to open."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hosts: list[str] = []
        original = httpcore.AnyIOBackend.connect_tcp

        async def spy(backend: Any, host: str, port: int, **kwargs: Any) -> Any:
            self.hosts.append(host)
            return await original(backend, host, port, **kwargs)

        monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://169.254.169.254/oauth2/v2.0/token", id="metadata-literal"),
        pytest.param("https://metadata.example.test/token", id="name-resolving-to-metadata"),
        pytest.param("https://[fd00:ec2::254]/token", id="ec2-ipv6"),
    ],
)
async def test_metadata_address_is_refused_without_a_request(
    api: httpx.AsyncClient,
    relay: OAuthRelay,
    resolver: Any,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    resolver.table["metadata.example.test"] = ["169.254.169.254"]
    spy = ConnectSpy(monkeypatch)
    response = await api.post(TEST_PATH, json=send_body(relay.port, url))
    body = assert_api_failed(response, Stage.TOKEN, Failure.TOKEN_EGRESS_DENIED)
    assert spy.hosts == []
    assert any("token: not connecting" in line for line in body["Transcript"])
    assert relay.attempts == []


async def test_https_endpoint_is_verified_by_its_name_on_the_checked_address(
    api: httpx.AsyncClient, relay: OAuthRelay, clock: FakeClock, ca: trustme.CA
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("login.example.test").configure_cert(context)
    secure = await TokenEndpoint(clients=relay.endpoint.clients, clock=clock).start(tls=context)
    relay.endpoint.issued = secure.issued  # the relay trusts what this endpoint issues
    try:
        good = await api.post(
            TEST_PATH, json=send_body(relay.port, secure.url("login.example.test", "https"))
        )
        bad = await api.post(
            TEST_PATH, json=send_body(relay.port, secure.url("relay.example.test", "https"))
        )
    finally:
        await secure.stop()
    body = assert_sent_v2(good)
    assert any("token: connected to 127.0.0.1" in line for line in body["Transcript"])
    assert_api_failed(bad, Stage.TOKEN, Failure.TOKEN_TLS_FAILED)


async def test_relay_without_oauth_mechanisms(
    api: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    server = await start_smtpd(users={"svc": "pw"})
    try:
        response = await api.post(TEST_PATH, json=send_body(server.port, endpoint.url()))
    finally:
        await server.stop()
    assert_api_failed(response, Stage.AUTH, Failure.OAUTH_NOT_OFFERED)
    assert endpoint.requests == []  # no token is fetched for a relay that cannot use it


@pytest.mark.parametrize(
    "url",
    [
        "http://login.microsoftonline.com/t/oauth2/v2.0/token",
        "http://169.254.169.254/token",
        "ftp://127.0.0.1/token",
        "https://user:pw@login.example.test/token",
        "https://login.example.test/token#x",
        "/oauth2/v2.0/token",
    ],
)
async def test_token_endpoint_must_be_https_except_to_loopback(
    api: httpx.AsyncClient, url: str
) -> None:
    response = await api.put(SMTP_PATH, json=oauth_body(2525, url))
    assert response.status_code == 400, response.text
    assert response.json()["ErrorCode"] == "0xA0100013"
    assert "TokenEndpoint" in response.json()["Message"]
