"""The relay password never leaves in a response, a log line or the database bytes."""

from __future__ import annotations

import base64
import logging
import secrets
from pathlib import Path

import httpx
import pytest

from smtp_profile.runtime import Runtime
from tests.conftest import profile_body
from tests.support.smtpd import start_smtpd


def forms_of(password: str, username: str) -> list[str]:
    raw = password.encode()
    return [
        password,
        base64.b64encode(raw).decode(),
        base64.b64encode(b"\0" + username.encode() + b"\0" + raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    ]


def database_bytes(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in data_dir.glob("smtp-profile.db*"))


async def test_password_is_absent_everywhere(
    runtime: Runtime,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Pw-" + secrets.token_hex(12)
    server = await start_smtpd(users={"svc": password})
    try:
        body = profile_body(
            server.port, RelayAuthenticationType=2, RelayUsername="svc", RelayPassword=password
        )
        responses = [
            await client.put("/KeyfactorAPI/SMTP", json=body),
            await client.get("/KeyfactorAPI/SMTP"),
        ]
        without_password = {k: v for k, v in body.items() if k != "RelayPassword"}
        ok = await client.post(
            "/KeyfactorAPI/SMTP/Test",
            json={**without_password, "TestRecipient": "ops@example.test"},
        )
        bad = await client.post(
            "/KeyfactorAPI/SMTP/Test",
            json={**body, "RelayPassword": password + "x", "TestRecipient": "ops@example.test"},
        )
        responses += [ok, bad]
    finally:
        await server.stop()
    assert ok.status_code == 200, ok.text
    assert any("AUTH" in line for line in ok.json()["Transcript"])
    assert bad.status_code == 400 and bad.json()["Stage"] == "auth"
    assert len(server.handler.messages) == 1
    texts = [response.text for response in responses] + [caplog.text]
    for form in forms_of(password, "svc"):
        for text in texts:
            assert form not in text
        assert form.encode() not in database_bytes(runtime.settings.data_dir)


async def test_stored_password_is_reused_for_the_same_destination(
    client: httpx.AsyncClient,
) -> None:
    server = await start_smtpd(users={"svc": "stored-pass-1"})
    try:
        body = profile_body(
            server.port,
            RelayAuthenticationType=2,
            RelayUsername="svc",
            RelayPassword="stored-pass-1",
        )
        assert (await client.put("/KeyfactorAPI/SMTP", json=body)).status_code == 200
        again = {k: v for k, v in body.items() if k != "RelayPassword"}
        put = await client.put("/KeyfactorAPI/SMTP", json=again)
        assert put.status_code == 200 and put.json()["HasPassword"] is True
        test = await client.post(
            "/KeyfactorAPI/SMTP/Test", json={**again, "TestRecipient": "ops@example.test"}
        )
    finally:
        await server.stop()
    assert test.status_code == 200, test.text
    assert server.auth_attempts == [("PLAIN", "svc")]


async def test_switching_to_anonymous_erases_the_stored_password(
    client: httpx.AsyncClient,
    runtime: Runtime,
) -> None:
    body = profile_body(
        RelayAuthenticationType=2, RelayUsername="svc", RelayPassword="erase-me-123456"
    )
    await client.put("/KeyfactorAPI/SMTP", json=body)
    response = await client.put("/KeyfactorAPI/SMTP", json=profile_body())
    assert response.json()["HasPassword"] is False
    assert response.json()["RelayUsername"] is None
    back = await client.put(
        "/KeyfactorAPI/SMTP", json={k: v for k, v in body.items() if k != "RelayPassword"}
    )
    assert back.status_code == 400
