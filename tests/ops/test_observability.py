"""Health endpoints, Prometheus metrics and request ids."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine

from smtp_profile.runtime import Runtime
from tests.conftest import profile_body
from tests.support.smtpd import RunningSmtpd


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"Status": "ok"}
    assert (await client.get("/health/ready")).json() == {"Status": "ok"}


async def test_ready_reports_a_dead_database(client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.database.engine = create_engine("sqlite:////nonexistent-dir/smtp-profile.db")
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["Status"] == "unavailable"
    assert (await client.get("/health/live")).status_code == 200


async def test_metrics_count_requests_and_tests(
    client: httpx.AsyncClient,
    smtpd: RunningSmtpd,
) -> None:
    await client.get("/KeyfactorAPI/SMTP")
    await client.post(
        "/KeyfactorAPI/SMTP/Test",
        json={**profile_body(smtpd.port), "TestRecipient": "a@example.test"},
    )
    await smtpd.stop()
    await client.post(
        "/KeyfactorAPI/SMTP/Test",
        json={**profile_body(smtpd.port), "TestRecipient": "a@example.test"},
    )
    text = (await client.get("/metrics")).text
    assert (
        'smtp_profile_http_requests_total{method="GET",route="/KeyfactorAPI/SMTP",status="200"} 1.0'
    ) in text
    assert 'smtp_profile_tests_total{outcome="ok",stage="-"} 1.0' in text
    assert 'smtp_profile_tests_total{outcome="failed",stage="connect"} 1.0' in text
    assert "smtp_profile_http_request_duration_seconds_bucket" in text


async def test_request_id_is_returned_and_kept_when_sane(client: httpx.AsyncClient) -> None:
    generated = await client.get("/KeyfactorAPI/SMTP")
    first = generated.headers["x-request-id"]
    second = (await client.get("/KeyfactorAPI/SMTP")).headers["x-request-id"]
    assert first != second and len(first) >= 12
    kept = await client.get("/KeyfactorAPI/SMTP", headers={"X-Request-Id": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = await client.get("/KeyfactorAPI/SMTP", headers={"X-Request-Id": "bad id\x7f"})
    assert replaced.headers["x-request-id"] != "bad id\x7f"
