"""The served OpenAPI document against what the service really answers.

One request each, validated with schemathesis against the document exactly as served.
Where the document is wrong the test is a strict xfail naming the place; the fuzz suite
validates against the document with those places corrected
(:mod:`tests.hardening.openapi_fixes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks
from sqlalchemy.exc import OperationalError

from smtp_profile.runtime import Runtime, open_runtime
from tests.conftest import (
    API_HEADERS,
    READER,
    add_users,
    api_client,
    make_settings,
    profile_body,
)
from tests.hardening.openapi_fixes import corrected
from tests.hardening.support import refusing_port

TEST_PATH = "/KeyfactorAPI/SMTP/Test"
CONFORMS = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    document: dict[str, Any] = served.json()
    return document


async def assert_documented(
    client: httpx.AsyncClient, method: str, path: str, response: httpx.Response
) -> None:
    """The response is one the served document describes for this operation."""
    schema = schemathesis.openapi.from_dict(await _document(client), config=SchemathesisConfig())
    case = schema[path][method].Case(headers=API_HEADERS)
    case.validate_response(response, checks=CONFORMS)


async def test_corrections_touch_only_known_places(client: httpx.AsyncClient) -> None:
    """The corrected document keeps every operation and request schema as served."""
    served = await _document(client)
    fixed = corrected(served)
    assert fixed["paths"].keys() == served["paths"].keys()
    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            assert fixed["paths"][path][method].get("requestBody") == operation.get("requestBody")
            assert fixed["paths"][path][method].get("parameters") == operation.get("parameters")


async def test_invalid_profile_400_is_documented(client: httpx.AsyncClient) -> None:
    response = await client.put("/KeyfactorAPI/SMTP", json={"Host": "a b"})
    assert response.status_code == 400
    await assert_documented(client, "PUT", "/KeyfactorAPI/SMTP", response)


async def test_invalid_test_request_400_is_documented(client: httpx.AsyncClient) -> None:
    response = await client.post(TEST_PATH, json={"Host": "relay.example.test"})
    assert response.status_code == 400
    assert set(response.json()) == {"ErrorCode", "Message"}
    await assert_documented(client, "POST", TEST_PATH, response)


@pytest.mark.parametrize(
    ("query", "auth", "status"),
    [("?Page=0", True, 400), ("?To=yesterday", True, 400), ("", False, 401)],
    ids=["page-0", "bad-time", "no-credentials"],
)
async def test_audit_errors_are_documented(
    runtime: Runtime, query: str, auth: bool, status: int
) -> None:
    async with api_client(runtime, READER if auth else None) as http:
        response = await http.get(f"/KeyfactorAPI/Audit{query}")
        assert response.status_code == status
        await assert_documented(http, "GET", "/KeyfactorAPI/Audit", response)


async def test_metrics_content_type_is_documented(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    await assert_documented(client, "GET", "/metrics", response)


async def test_ready_503_is_documented(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("database is down"))

    monkeypatch.setattr(runtime.database, "check", down)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    await assert_documented(client, "GET", "/health/ready", response)


async def test_rate_limited_test_429_is_documented(tmp_path: Path) -> None:
    runtime = open_runtime(make_settings(tmp_path / "d", test_rate_limit=1))
    add_users(runtime)
    try:
        async with api_client(runtime) as http:
            with refusing_port() as port:
                body = {**profile_body(port), "TestRecipient": "ops@example.test"}
                first = await http.post(TEST_PATH, json=body)
                assert first.status_code == 400 and first.json()["Stage"] == "connect"
                response = await http.post(TEST_PATH, json=body)
            assert response.status_code == 429
            assert response.headers["retry-after"].isdigit()
            await assert_documented(http, "POST", TEST_PATH, response)
    finally:
        runtime.close()


async def test_http_basic_is_declared(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    schemes = document.get("components", {}).get("securitySchemes", {})
    basic = [
        name
        for name, s in schemes.items()
        if s.get("type") == "http" and s.get("scheme", "").lower() == "basic"
    ]
    assert basic
    for path, operations in document["paths"].items():
        if path.startswith("/KeyfactorAPI/"):
            for operation in operations.values():
                required = operation.get("security", document.get("security", []))
                assert any(name in requirement for requirement in required for name in basic), path


async def test_audit_declares_the_api_version_header(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    names = [p["name"] for p in document["paths"]["/KeyfactorAPI/Audit"]["get"]["parameters"]]
    assert "X-Keyfactor-Api-Version" in names
