"""OAuth 2.0 client credentials end to end: the API, a real token endpoint and a relay
that checks XOAUTH2 / OAUTHBEARER tokens against the ones it issued."""

from __future__ import annotations

import httpx

from smtp_profile.mail.diagnosis import Failure, Stage
from tests.mail.helpers import assert_api_failed, client_lines
from tests.oauth.conftest import (
    CLIENT_SECRET,
    MAILBOX,
    SMTP_PATH,
    TEST_PATH,
    assert_sent_v2,
    oauth_body,
    send_body,
)
from tests.oauth.relay import OAuthRelay, start_oauth_relay
from tests.oauth.token_server import FakeClock, TokenEndpoint


async def test_stored_profile_sends_with_a_fresh_token(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    put = await api.put(SMTP_PATH, json=oauth_body(relay.port, endpoint.url()))
    assert put.status_code == 200, put.text
    without_secrets = send_body(relay.port, endpoint.url(), ClientId=None, ClientSecret=None)
    body = assert_sent_v2(await api.post(TEST_PATH, json=without_secrets))
    assert [(a.mechanism, a.user, a.accepted) for a in relay.attempts] == [
        ("XOAUTH2", MAILBOX, True)
    ]
    assert [r.auth for r in endpoint.requests] == ["basic"]
    assert endpoint.requests[0].form == {
        "grant_type": "client_credentials",
        "scope": "https://outlook.office365.com/.default",
    }
    assert relay.handler.messages[0].rcpt_tos == ["ops@example.test"]
    assert "AUTH XOAUTH2 ***" in client_lines(body["Transcript"])
    assert body["ClientSecret"] is None  # left out: the stored one was used


async def test_a_cached_token_is_reused_and_renewed_before_it_expires(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    endpoint.lifetime = 60
    body = send_body(relay.port, endpoint.url())
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    clock.advance(50)  # 10 s left, more than the renewal margin (6 s, a tenth of 60)
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    assert len(endpoint.requests) == 1
    clock.advance(5)  # 5 s left: inside the margin, so a new token is fetched
    sent = assert_sent_v2(await api.post(TEST_PATH, json=body))
    assert len(endpoint.requests) == 2
    tokens = [attempt.token for attempt in relay.attempts]
    assert tokens[0] == tokens[1] != tokens[2]
    assert any("obtained a bearer token valid for 60 s" in line for line in sent["Transcript"])


async def test_an_expired_token_is_never_sent(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    endpoint.lifetime = 30
    body = send_body(relay.port, endpoint.url())
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    clock.advance(3600)
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    assert [attempt.accepted for attempt in relay.attempts] == [True, True]
    assert len(endpoint.requests) == 2


async def test_relay_rejects_the_token_once_then_accepts_a_fresh_one(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    body = send_body(relay.port, endpoint.url())
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    endpoint.revoked.update(endpoint.issued)  # the relay now refuses the cached token
    sent = assert_sent_v2(await api.post(TEST_PATH, json=body))
    assert [a.accepted for a in relay.attempts] == [True, False, True]
    assert len({a.token for a in relay.attempts}) == 2
    assert len(endpoint.requests) == 2
    assert any("trying once more with a fresh token" in line for line in sent["Transcript"])
    assert client_lines(sent["Transcript"]).count("AUTH XOAUTH2 ***") == 2


async def test_relay_that_keeps_rejecting_is_diagnosed(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    relay.reject_next = 5
    response = await api.post(TEST_PATH, json=send_body(relay.port, endpoint.url()))
    body = assert_api_failed(response, Stage.AUTH, Failure.OAUTH_TOKEN_REJECTED, 535)
    assert len(relay.attempts) == 2 and len(endpoint.requests) == 2
    assert "334" in "\n".join(body["Transcript"])  # the error challenge is shown, redacted
    assert relay.handler.messages == []


async def test_bad_client_secret_is_a_token_failure(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    wrong = {"SecretValue": "not-the-" + CLIENT_SECRET}
    response = await api.post(
        TEST_PATH, json=send_body(relay.port, endpoint.url(), ClientSecret=wrong)
    )
    body = assert_api_failed(response, Stage.TOKEN, Failure.TOKEN_INVALID_CLIENT)
    assert body["ErrorCode"] == "0xA040000C"
    assert "invalid_client" in body["Message"] and "AADSTS7000215" in body["Message"]
    assert [r.auth for r in endpoint.requests] == ["basic", "post"]  # then gives up
    assert relay.attempts == []
    text = response.text
    assert "not-the-" not in text and CLIENT_SECRET not in text


async def test_post_only_endpoint_is_used_with_client_secret_post(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    endpoint.accept = {"post"}
    body = send_body(relay.port, endpoint.url())
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    clock.advance(7200)
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    assert [r.auth for r in endpoint.requests] == ["basic", "post", "post"]


async def test_oauthbearer_where_the_relay_offers_only_that(
    api: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    relay = await start_oauth_relay(endpoint, mechanisms=("OAUTHBEARER",))
    try:
        body = assert_sent_v2(await api.post(TEST_PATH, json=send_body(relay.port, endpoint.url())))
    finally:
        await relay.stop()
    assert [(a.mechanism, a.user, a.accepted) for a in relay.attempts] == [
        ("OAUTHBEARER", MAILBOX, True)
    ]
    assert "AUTH OAUTHBEARER ***" in client_lines(body["Transcript"])


async def test_relay_user_is_the_relay_username_when_given(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    body = send_body(
        relay.port, endpoint.url(), RelayUsername={"SecretValue": "shared@example.test"}
    )
    assert_sent_v2(await api.post(TEST_PATH, json=body))
    assert relay.attempts[0].user == "shared@example.test"


async def test_echo_shows_given_secrets_without_their_values(
    api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    body = assert_sent_v2(await api.post(TEST_PATH, json=send_body(relay.port, endpoint.url())))
    hidden = {"SecretValue": None, "Provider": None, "Parameters": None}
    assert body["ClientId"] == body["ClientSecret"] == hidden
    assert body["TokenEndpoint"] == endpoint.url() and body["RelayAuthenticationType"] == 3
