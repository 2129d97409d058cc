"""The pure OAuth parts: SASL encodings, the token request, the answer's classification,
the cache's clock, and the egress-checked network backend."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpcore
import pytest

from smtp_profile.egress import EgressPolicy
from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.failures import StepFailed
from smtp_profile.oauth import sasl
from smtp_profile.oauth.cache import TokenCache, renew_margin
from smtp_profile.oauth.grant import ClientAuth, ClientCredentials
from smtp_profile.oauth.responses import DEFAULT_LIFETIME, Token, parse_token_response
from smtp_profile.oauth.transport import EgressCheckedBackend, EgressDenied, token_egress
from smtp_profile.secret import Secret
from tests.oauth.token_server import FakeClock

GRANT = ClientCredentials(
    token_endpoint="https://login.example.test/t/oauth2/v2.0/token",
    client_id="app id",
    client_secret=Secret("s3cr:et+/"),
    scope="https://outlook.office365.com/.default",
)


def test_xoauth2_initial_response() -> None:
    blob = base64.b64decode(sasl.xoauth2("a@example.test", "tok.en"))
    assert blob == b"user=a@example.test\x01auth=Bearer tok.en\x01\x01"


def test_oauthbearer_initial_response_escapes_the_user() -> None:
    blob = base64.b64decode(sasl.oauthbearer("a,b=c@x", "tok", host="relay.test", port=587))
    assert blob == b"n,a=a=2Cb=3Dc@x,\x01host=relay.test\x01port=587\x01auth=Bearer tok\x01\x01"


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        ("PLAIN LOGIN XOAUTH2", sasl.OAuthMechanism.XOAUTH2),
        ("oauthbearer xoauth2", sasl.OAuthMechanism.XOAUTH2),
        ("PLAIN OAUTHBEARER", sasl.OAuthMechanism.OAUTHBEARER),
        ("PLAIN LOGIN", None),
        ("", None),
    ],
)
def test_mechanism_choice(offered: str, chosen: sasl.OAuthMechanism | None) -> None:
    assert sasl.choose(offered) is chosen


def test_client_secret_basic_form_encodes_the_pair() -> None:
    headers, body = GRANT.request(ClientAuth.BASIC)
    auth = dict(headers)[b"Authorization"].decode()
    assert base64.b64decode(auth.removeprefix("Basic ")) == b"app+id:s3cr%3Aet%2B%2F"
    assert b"client_secret" not in body and b"grant_type=client_credentials" in body


def test_client_secret_post_puts_the_pair_in_the_body() -> None:
    headers, body = GRANT.request(ClientAuth.POST)
    assert b"Authorization" not in dict(headers)
    assert b"client_id=app+id" in body and b"client_secret=s3cr%3Aet%2B%2F" in body


def answer(status: int, document: Any) -> Token:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return parse_token_response(status, body)


def failure_of(status: int, document: Any) -> Failure:
    with pytest.raises(StepFailed) as caught:
        answer(status, document)
    assert caught.value.stage is Stage.TOKEN
    return caught.value.failure


def test_token_answer() -> None:
    token = answer(
        200, {"access_token": "eyJ0.eyJ1.sig-_", "token_type": "bearer", "expires_in": "3599"}
    )
    assert token.value.reveal() == "eyJ0.eyJ1.sig-_" and token.lifetime == 3599
    assert answer(200, {"access_token": "t"}).lifetime == DEFAULT_LIFETIME


@pytest.mark.parametrize(
    ("status", "document", "failure"),
    [
        (401, {"error": "invalid_client"}, Failure.TOKEN_INVALID_CLIENT),
        (400, {"error": "unauthorized_client"}, Failure.TOKEN_INVALID_CLIENT),
        (400, {"error": "invalid_scope"}, Failure.TOKEN_INVALID_SCOPE),
        (400, {"error": "invalid_request"}, Failure.TOKEN_REFUSED),
        (401, b"nope", Failure.TOKEN_INVALID_CLIENT),
        (404, b"nope", Failure.TOKEN_REFUSED),
        (500, {"error": "server_error"}, Failure.TOKEN_SERVER_ERROR),
        (503, b"", Failure.TOKEN_SERVER_ERROR),
        (302, b"", Failure.TOKEN_SERVER_ERROR),
        (200, b"<html>", Failure.TOKEN_BAD_RESPONSE),
        (200, [1, 2], Failure.TOKEN_BAD_RESPONSE),
        (200, {"access_token": "a b"}, Failure.TOKEN_BAD_RESPONSE),
        (200, {"access_token": "a\x01b"}, Failure.TOKEN_BAD_RESPONSE),
        (200, {"access_token": "t", "token_type": "mac"}, Failure.TOKEN_BAD_RESPONSE),
    ],
)
def test_token_failures(status: int, document: Any, failure: Failure) -> None:
    assert failure_of(status, document) is failure


def test_cache_renews_shortly_before_expiry() -> None:
    clock = FakeClock()
    cache = TokenCache(clock=clock)
    key = cache.key(GRANT)
    cache.put(key, Token(Secret("t1"), lifetime=100))
    assert renew_margin(100) == 10 and renew_margin(3600) == 60
    clock.advance(89)
    assert cache.get(key) is not None
    clock.advance(1)
    assert cache.get(key) is None


def test_cache_keys_differ_by_secret_scope_and_endpoint() -> None:
    cache = TokenCache()
    variants = [
        GRANT,
        ClientCredentials(GRANT.token_endpoint, GRANT.client_id, Secret("other"), GRANT.scope),
        ClientCredentials(GRANT.token_endpoint, GRANT.client_id, GRANT.client_secret, "s2"),
        ClientCredentials("https://x.test/t", GRANT.client_id, GRANT.client_secret, GRANT.scope),
    ]
    keys = {cache.key(grant) for grant in variants}
    assert len(keys) == len(variants)
    assert all("s3cr" not in key for key in keys)


def test_token_egress_adds_https_to_an_operator_port_list() -> None:
    assert token_egress(EgressPolicy(ports=frozenset({587}))).ports == {587, 443}
    assert token_egress(EgressPolicy()).ports == frozenset()


class SpyBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.connected: list[str] = []

    async def connect_tcp(self, host: str, port: int, **_: Any) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        raise httpcore.ConnectError("refused")


async def test_backend_checks_every_resolved_address_before_connecting() -> None:
    spy = SpyBackend()

    async def resolver(host: str, port: int) -> list[str]:
        return ["169.254.169.254", "10.0.0.5", "fe80::1"]

    backend = EgressCheckedBackend(egress=EgressPolicy(), resolver=resolver, inner=spy)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("login.example.test", 443)
    assert spy.connected == ["10.0.0.5"]  # the checked address, never a denied one
    spy.connected.clear()

    async def metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    only_denied = EgressCheckedBackend(egress=EgressPolicy(), resolver=metadata, inner=spy)
    with pytest.raises(EgressDenied):
        await only_denied.connect_tcp("login.example.test", 443)
    assert spy.connected == []


async def test_plain_http_goes_to_loopback_only() -> None:
    spy = SpyBackend()

    async def resolver(host: str, port: int) -> list[str]:
        return ["192.0.2.10"]

    backend = EgressCheckedBackend(
        egress=EgressPolicy(), resolver=resolver, loopback_only=True, inner=spy
    )
    with pytest.raises(EgressDenied):
        await backend.connect_tcp("localhost", 80)
    assert spy.connected == []
