"""Every bad input of the core issue: a 4xx in the error format, nothing stored, nothing sent."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.test_contract import assert_error
from tests.conftest import profile_body
from tests.support.smtpd import RunningSmtpd

RECIPIENT = {"TestRecipient": "ops@example.test"}


def without(body: dict[str, object], key: str) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != key}


BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("missing-host", {"Host": None}, "Host"),
    ("host-scheme", {"Host": "smtp://relay.example.test"}, "Host"),
    ("host-path", {"Host": "relay.example.test/x"}, "Host"),
    ("host-port", {"Host": "relay.example.test:25"}, "Host"),
    ("host-space", {"Host": "relay example.test"}, "Host"),
    ("host-crlf", {"Host": "relay.example.test\r\nRCPT TO:<x@y>"}, "Host"),
    ("host-nul", {"Host": "relay\x00.example.test"}, "Host"),
    ("port-0", {"Port": 0}, "Port"),
    ("port-65536", {"Port": 65536}, "Port"),
    ("port-negative", {"Port": -1}, "Port"),
    ("port-text", {"Port": "abc"}, "Port"),
    ("port-fraction", {"Port": 1.5}, "Port"),
    ("port-bool", {"Port": True}, "Port"),
    ("auth-3", {"RelayAuthenticationType": 3}, "RelayAuthenticationType"),
    ("auth-negative", {"RelayAuthenticationType": -1}, "RelayAuthenticationType"),
    ("auth-text", {"RelayAuthenticationType": "x"}, "RelayAuthenticationType"),
    (
        "type2-no-username",
        {"RelayAuthenticationType": 2, "RelayPassword": "p-12345678"},
        "RelayUsername",
    ),
    ("type2-no-password", {"RelayAuthenticationType": 2, "RelayUsername": "svc"}, "RelayPassword"),
    ("missing-sender", {"SenderAccount": None}, "SenderAccount"),
    ("sender-no-at", {"SenderAccount": "alerts.example.test"}, "SenderAccount"),
    ("sender-display-name", {"SenderAccount": "Alerts <alerts@example.test>"}, "SenderAccount"),
    ("sender-crlf", {"SenderAccount": "alerts@example.test\r\nBcc: x@y.test"}, "SenderAccount"),
    ("missing-name", {"SenderName": None}, "SenderName"),
    ("name-crlf", {"SenderName": "Alerts\r\nBcc: victim@example.test"}, "SenderName"),
    ("name-lf", {"SenderName": "Alerts\nX-Evil: 1"}, "SenderName"),
    ("id-2", {"Id": 2}, "Id"),
]


async def _state(client: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    response = await client.get("/KeyfactorAPI/SMTP")
    return response.json(), response.headers["etag"]


@pytest.fixture
async def stored(client: httpx.AsyncClient, smtpd: RunningSmtpd) -> tuple[dict[str, Any], str]:
    response = await client.put(
        "/KeyfactorAPI/SMTP",
        json=profile_body(
            smtpd.port, RelayAuthenticationType=2, RelayUsername="svc", RelayPassword="p-12345678"
        ),
    )
    assert response.status_code == 200
    return await _state(client)


@pytest.mark.parametrize(
    ("change", "field"), [(c, f) for _, c, f in BAD_FIELDS], ids=[name for name, _, _ in BAD_FIELDS]
)
async def test_bad_put_is_400_and_stores_nothing(
    client: httpx.AsyncClient,
    smtpd: RunningSmtpd,
    stored: tuple[dict[str, Any], str],
    change: dict[str, Any],
    field: str,
) -> None:
    body = {**profile_body(4000), **change}
    body = {k: v for k, v in body.items() if v is not None}
    body = body if "RelayAuthenticationType" in change else {**body, "RelayAuthenticationType": 0}
    body_error = assert_error(await client.put("/KeyfactorAPI/SMTP", json=body), 400)
    assert field in str(body_error["Message"])
    assert await _state(client) == stored


@pytest.mark.parametrize(
    ("change", "field"), [(c, f) for _, c, f in BAD_FIELDS], ids=[name for name, _, _ in BAD_FIELDS]
)
async def test_bad_test_is_400_and_sends_nothing(
    client: httpx.AsyncClient,
    smtpd: RunningSmtpd,
    change: dict[str, Any],
    field: str,
) -> None:
    body = {**profile_body(smtpd.port), **RECIPIENT, **change}
    body = {k: v for k, v in body.items() if v is not None}
    error = assert_error(await client.post("/KeyfactorAPI/SMTP/Test", json=body), 400)
    assert field in str(error["Message"])
    assert "Stage" not in error
    assert smtpd.connections == []


@pytest.mark.parametrize(
    "recipient",
    [
        None,
        "",
        "ops",
        "Ops <ops@example.test>",
        "ops@example.test\r\nRCPT TO:<x@y.test>",
        "a@example.test, b@example.test",
    ],
)
async def test_bad_test_recipient(
    client: httpx.AsyncClient, smtpd: RunningSmtpd, recipient: str | None
) -> None:
    body: dict[str, object] = {**profile_body(smtpd.port)}
    if recipient is not None:
        body["TestRecipient"] = recipient
    error = assert_error(await client.post("/KeyfactorAPI/SMTP/Test", json=body), 400)
    assert "TestRecipient" in str(error["Message"])
    assert smtpd.connections == []


RAW_BODIES = [
    ("malformed-json", b'{"Host": "relay.example.test",', "application/json", 400),
    ("json-array", b"[1, 2]", "application/json", 400),
    ("json-string", b'"Host"', "application/json", 400),
    ("json-null", b"null", "application/json", 400),
    ("empty", b"", "application/json", 400),
    (
        "duplicate-case",
        b'{"Host": "a.example.test", "host": "b.example.test"}',
        "application/json",
        400,
    ),
    ("text-plain", json.dumps(profile_body()).encode(), "text/plain", 415),
    ("xml", b"<Host>x</Host>", "application/xml", 415),
    (
        "too-large",
        json.dumps({**profile_body(), "Pad": "x" * 70_000}).encode(),
        "application/json",
        413,
    ),
]


@pytest.mark.parametrize(
    ("content", "media_type", "status"),
    [(c, m, s) for _, c, m, s in RAW_BODIES],
    ids=[name for name, *_ in RAW_BODIES],
)
@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_bad_bodies(
    client: httpx.AsyncClient,
    smtpd: RunningSmtpd,
    stored: tuple[dict[str, Any], str],
    content: bytes,
    media_type: str,
    status: int,
    method: str,
) -> None:
    path = "/KeyfactorAPI/SMTP" if method == "PUT" else "/KeyfactorAPI/SMTP/Test"
    response = await client.request(
        method, path, content=content, headers={"Content-Type": media_type}
    )
    assert_error(response, status)
    assert await _state(client) == stored
    assert smtpd.connections == []


async def test_body_without_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.put("/KeyfactorAPI/SMTP", content=b"Host=x")
    assert_error(response, 415)


async def test_missing_requested_with_stores_and_sends_nothing(
    client: httpx.AsyncClient,
    smtpd: RunningSmtpd,
    stored: tuple[dict[str, Any], str],
) -> None:
    client.headers.pop("X-Keyfactor-Requested-With")
    put = await client.put("/KeyfactorAPI/SMTP", json=profile_body(4000))
    test = await client.post(
        "/KeyfactorAPI/SMTP/Test", json={**profile_body(smtpd.port), **RECIPIENT}
    )
    assert_error(put, 400)
    assert_error(test, 400)
    client.headers["X-Keyfactor-Requested-With"] = "APIClient"
    assert await _state(client) == stored
    assert smtpd.connections == []


async def test_changed_host_never_receives_the_stored_password(
    client: httpx.AsyncClient,
    smtpd: RunningSmtpd,
    stored: tuple[dict[str, Any], str],
) -> None:
    body = {
        **profile_body(
            smtpd.port, Host="localhost", RelayAuthenticationType=2, RelayUsername="svc"
        ),
        **RECIPIENT,
    }
    error = assert_error(await client.post("/KeyfactorAPI/SMTP/Test", json=body), 400)
    assert "RelayPassword" in str(error["Message"])
    put = await client.put("/KeyfactorAPI/SMTP", json=without(body, "TestRecipient"))
    assert_error(put, 400)
    assert await _state(client) == stored
    assert smtpd.connections == []
