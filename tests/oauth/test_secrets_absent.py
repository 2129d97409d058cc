"""The client secret and the tokens never appear in a response, a log line, the
database bytes or a transcript; key rotation and backups treat the client secret like
the relay password."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from smtp_profile.backup import export_backup
from smtp_profile.keys import rotate_keys
from smtp_profile.runtime import Runtime
from tests.oauth.conftest import CLIENT_SECRET, SMTP_PATH, TEST_PATH, oauth_body, send_body
from tests.oauth.relay import OAuthRelay
from tests.oauth.token_server import FakeClock, TokenEndpoint
from tests.test_secrets import database_bytes


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")]


async def test_client_secret_and_tokens_are_absent_everywhere(
    api: httpx.AsyncClient,
    oauth_runtime: Runtime,
    relay: OAuthRelay,
    endpoint: TokenEndpoint,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [await api.put(SMTP_PATH, json=oauth_body(relay.port, endpoint.url()))]
    stored = send_body(relay.port, endpoint.url(), ClientSecret=None)
    responses.append(await api.post(TEST_PATH, json=stored))
    endpoint.revoked.update(endpoint.issued)  # a rejected token, then a fresh one
    responses.append(await api.post(TEST_PATH, json=stored))
    clock.advance(7200)
    responses.append(await api.post(TEST_PATH, json=send_body(relay.port, endpoint.url())))
    relay.reject_next = 2
    responses.append(await api.post(TEST_PATH, json=stored))
    wrong = send_body(
        relay.port, endpoint.url(), ClientSecret={"SecretValue": "Wr0ng-" + CLIENT_SECRET}
    )
    responses.append(await api.post(TEST_PATH, json=wrong))
    responses.append(await api.get(SMTP_PATH))
    responses.append(await api.get("/KeyfactorAPI/Audit"))
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 400, 400, 200, 200]
    assert len(endpoint.issued) == 4 and len(relay.attempts) == 6
    texts = [response.text for response in responses] + [caplog.text]
    secrets = [CLIENT_SECRET, "Wr0ng-" + CLIENT_SECRET, *endpoint.issued]
    data = database_bytes(oauth_runtime.settings.data_dir)
    for secret in secrets:
        for form in forms(secret):
            for text in texts:
                assert form not in text, form
            assert form.encode() not in data
    for response in responses[1:6]:
        assert any("token:" in line for line in response.json()["Transcript"])


async def test_rotation_and_backup_cover_the_client_secret(
    api: httpx.AsyncClient, oauth_runtime: Runtime
) -> None:
    await api.put(SMTP_PATH, json=oauth_body(2525, "https://login.example.test/token"))
    report = rotate_keys(oauth_runtime, actor="test")
    assert report.secrets_reencrypted == 2  # the client secret and the audit chain key
    oauth_runtime.service.verify_secrets_readable()
    full = export_backup(oauth_runtime)
    bare = export_backup(oauth_runtime, include_secrets=False)
    assert full["Tables"]["profile"][0]["client_secret"] is not None
    assert bare["Tables"]["profile"][0]["client_secret"] is None
    assert CLIENT_SECRET not in str(full)
