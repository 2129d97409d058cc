from __future__ import annotations

import httpx

from tests.conftest import profile_body
from tests.support.smtpd import RunningSmtpd


async def test_default_profile_before_anything_is_stored(client: httpx.AsyncClient) -> None:
    response = await client.get("/KeyfactorAPI/SMTP")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "Id": 1,
        "Host": None,
        "Port": 25,
        "RelayAuthenticationType": 0,
        "RelayUsername": None,
        "SenderAccount": None,
        "SenderName": None,
        "UseSSL": False,
        "HasPassword": False,
    }


async def test_put_then_test_sends_a_real_message(
    client: httpx.AsyncClient, smtpd: RunningSmtpd
) -> None:
    put = await client.put("/KeyfactorAPI/SMTP", json=profile_body(smtpd.port))
    assert put.status_code == 200, put.text
    test = await client.post(
        "/KeyfactorAPI/SMTP/Test",
        json={**profile_body(smtpd.port), "TestRecipient": "ops@example.test"},
    )
    assert test.status_code == 200, test.text
    assert len(smtpd.handler.messages) == 1
