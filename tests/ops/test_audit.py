"""Audit content for each operation, the API and CLI views, and tamper evidence."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy import delete, insert, update

from smtp_profile.accounts import Principal, Role
from smtp_profile.profile import parse_profile_request
from smtp_profile.runtime import Runtime
from smtp_profile.store.schema import audit_log
from tests.conftest import READER, api_client, profile_body
from tests.support.smtpd import RunningSmtpd
from tests.test_cli import cli_env, run


async def audit_items(client: httpx.AsyncClient, **params: str) -> list[dict[str, object]]:
    response = await client.get("/KeyfactorAPI/Audit", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["Items"])


async def test_put_records_before_and_after_without_the_password(
    client: httpx.AsyncClient,
) -> None:
    await client.put("/KeyfactorAPI/SMTP", json=profile_body(25))
    await client.put(
        "/KeyfactorAPI/SMTP",
        json=profile_body(
            587,
            UseSSL=True,
            RelayAuthenticationType=2,
            RelayUsername="svc",
            RelayPassword="audit-secret-99",
        ),
    )
    latest = (await audit_items(client, Operation="put"))[0]
    assert latest["User"] == "admin" and latest["Outcome"] == "ok"
    assert latest["ClientAddress"] == "127.0.0.1"
    changes = {c["Field"]: (c["Before"], c["After"]) for c in latest["Changes"]}  # type: ignore[union-attr,index]
    assert changes == {
        "Port": (25, 587),
        "UseSSL": (False, True),
        "RelayAuthenticationType": (0, 2),
        "RelayUsername": (None, "svc"),
        "RelayPassword": (None, "changed"),
    }
    page = await client.get("/KeyfactorAPI/Audit")
    assert "audit-secret-99" not in page.text


async def test_tests_are_recorded_with_their_outcome(
    client: httpx.AsyncClient,
    smtpd: RunningSmtpd,
) -> None:
    ok = await client.post(
        "/KeyfactorAPI/SMTP/Test",
        json={**profile_body(smtpd.port), "TestRecipient": "a@example.test"},
    )
    assert ok.status_code == 200
    await smtpd.stop()
    failed = await client.post(
        "/KeyfactorAPI/SMTP/Test",
        json={**profile_body(smtpd.port), "TestRecipient": "a@example.test"},
    )
    assert failed.status_code == 400
    items = await audit_items(client, Operation="test")
    assert [item["Outcome"] for item in items] == ["failed:connect", "ok"]
    assert f"127.0.0.1:{smtpd.port}" in str(items[0]["Detail"])


async def test_denied_requests_are_recorded(runtime: Runtime, client: httpx.AsyncClient) -> None:
    async with api_client(runtime, auth=("admin", "wrong-password-x")) as wrong:
        assert (await wrong.get("/KeyfactorAPI/SMTP")).status_code == 401
    async with api_client(runtime, auth=READER) as reader:
        assert (await reader.put("/KeyfactorAPI/SMTP", json=profile_body())).status_code == 403
    items = await audit_items(client, Operation="denied")
    assert [(item["User"], item["Outcome"]) for item in items] == [
        ("reader", "403"),
        ("admin", "401"),
    ]


async def test_filters_and_paging(client: httpx.AsyncClient) -> None:
    for port in range(2500, 2505):
        await client.put("/KeyfactorAPI/SMTP", json=profile_body(port))
    page = (await client.get("/KeyfactorAPI/Audit", params={"pagesize": "2", "page": "2"})).json()
    assert page["Total"] == 5 and page["Page"] == 2 and len(page["Items"]) == 2
    ids = [item["Id"] for item in page["Items"]]
    assert ids == sorted(ids, reverse=True)
    assert await audit_items(client, User="nobody") == []
    future = await audit_items(client, From="2999-01-01T00:00:00Z")
    assert future == []
    bad = await client.get("/KeyfactorAPI/Audit", params={"From": "yesterday"})
    assert bad.status_code == 400 and "From" in bad.json()["Message"]


def test_chain_verifies_and_catches_edit_insert_and_delete(runtime: Runtime) -> None:
    admin = Principal("admin", Role.ADMIN)
    for port in (2501, 2502, 2503, 2504):
        runtime.service.replace(parse_profile_request(profile_body(port)), actor=admin)
    assert runtime.trail.verify().ok

    with runtime.database.write() as connection:
        connection.execute(update(audit_log).where(audit_log.c.id == 2).values(user_name="eve"))
    result = runtime.trail.verify()
    assert not result.ok and result.first_bad_id == 2

    with runtime.database.write() as connection:
        connection.execute(update(audit_log).where(audit_log.c.id == 2).values(user_name="admin"))
        connection.execute(delete(audit_log).where(audit_log.c.id == 3))
    result = runtime.trail.verify()
    assert not result.ok and result.first_bad_id == 4


def test_deleting_the_newest_record_is_caught(runtime: Runtime) -> None:
    for port in (2501, 2502):
        runtime.service.replace(
            parse_profile_request(profile_body(port)), actor=Principal("admin", Role.ADMIN)
        )
    with runtime.database.write() as connection:
        row = connection.execute(audit_log.select().where(audit_log.c.id == 2)).mappings().one()
        connection.execute(delete(audit_log).where(audit_log.c.id == 2))
    result = runtime.trail.verify()
    assert not result.ok and result.first_bad_id == 2
    with runtime.database.write() as connection:
        forged = dict(row) | {"id": 2, "user_name": "eve"}
        connection.execute(insert(audit_log).values(**forged))
    assert runtime.trail.verify().first_bad_id == 2


async def test_cli_audit_list_and_verify(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await client.put("/KeyfactorAPI/SMTP", json=profile_body(2600))
    env = cli_env(runtime.settings.data_dir)
    code, out, _ = await run(env, "audit", "list", "--json")
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert first["Operation"] == "put" and first["User"] == "admin"
    code, out, _ = await run(env, "audit", "verify")
    assert code == 0 and "intact" in out
    with runtime.database.write() as connection:
        connection.execute(update(audit_log).values(outcome="tampered"))
    code, out, _ = await run(env, "audit", "verify")
    assert code == 1 and "record 1" in out


@pytest.mark.parametrize("writers", [50])
async def test_concurrent_puts_leave_one_coherent_profile_and_a_valid_chain(
    runtime: Runtime,
    client: httpx.AsyncClient,
    writers: int,
) -> None:
    bodies = [
        profile_body(3000 + n, SenderName=f"Writer {n}", SenderAccount=f"w{n}@example.test")
        for n in range(writers)
    ]
    responses = await asyncio.gather(
        *(client.put("/KeyfactorAPI/SMTP", json=body) for body in bodies)
    )
    assert all(response.status_code == 200 for response in responses)
    final = (await client.get("/KeyfactorAPI/SMTP")).json()
    n = final["Port"] - 3000
    assert final["SenderName"] == f"Writer {n}" and final["SenderAccount"] == f"w{n}@example.test"
    assert runtime.trail.verify().ok
    assert runtime.trail.verify().checked == writers
