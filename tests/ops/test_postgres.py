"""PostgreSQL: the service on a real server, and two service processes behaving as one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from smtp_profile.runtime import open_runtime
from tests.conftest import API_HEADERS, add_users, api_client, make_settings, profile_body
from tests.support.smtpd import RunningSmtpd
from tests.test_cli import free_port, run

pytestmark = pytest.mark.postgres


def pg_env(pg_url: str, data_dir: Path, key_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_PROFILE_")}
    env.update(
        {
            "SMTP_PROFILE_DATABASE_URL": pg_url,
            "SMTP_PROFILE_DATA_DIR": str(data_dir),
            "SMTP_PROFILE_SECRET_KEY_FILE": str(key_file),
            "SMTP_PROFILE_HELO_NAME": "pg.test",
            "SMTP_PROFILE_TEST_RATE_LIMIT": "0",
        }
    )
    return env


async def test_service_on_postgres(pg_url: str, tmp_path: Path, smtpd: RunningSmtpd) -> None:
    runtime = open_runtime(make_settings(tmp_path / "d", database_url=pg_url))
    add_users(runtime)
    try:
        async with api_client(runtime) as http:
            body = profile_body(
                smtpd.port,
                RelayAuthenticationType=2,
                RelayUsername="svc",
                RelayPassword="pg-secret-12345",
            )
            put = await http.put("/KeyfactorAPI/SMTP", json=body)
            assert put.status_code == 200, put.text
            assert (await http.get("/KeyfactorAPI/SMTP")).json() == put.json()
        assert runtime.trail.verify().ok
    finally:
        runtime.close()


@dataclass
class Instance:
    url: str
    process: asyncio.subprocess.Process


async def _start(env: dict[str, str]) -> Instance:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "smtp_profile",
        "serve",
        "--port",
        str(port),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    return Instance(f"http://127.0.0.1:{port}", process)


async def _wait_ready(instance: Instance) -> None:
    assert instance.process.stderr is not None
    async with asyncio.timeout(60):
        async for raw in instance.process.stderr:
            if b"Uvicorn running" in raw or b"Application startup complete" in raw:
                break
        async with httpx.AsyncClient(base_url=instance.url) as http:
            while True:
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.05)


@pytest.fixture
async def two_instances(pg_url: str, tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance]]:
    key_file = tmp_path / "shared.key"
    envs = [pg_env(pg_url, tmp_path / f"data{n}", key_file) for n in (1, 2)]
    # Both start at once on an empty database: migrations and key creation race.
    instances = await asyncio.gather(_start(envs[0]), _start(envs[1]))
    try:
        await asyncio.gather(*(_wait_ready(instance) for instance in instances))
        code, _, err = await run(
            envs[0],
            "users",
            "add",
            "ops",
            "--role",
            "admin",
            "--password-stdin",
            stdin="ops-password-123\n",
        )
        assert code == 0, err
        yield instances[0], instances[1]
    finally:
        for instance in instances:
            instance.process.terminate()
            await instance.process.wait()


def client_for(instance: Instance) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=instance.url, headers=API_HEADERS, auth=("ops", "ops-password-123"), timeout=30
    )


async def test_two_processes_on_one_postgres_behave_as_one(
    two_instances: tuple[Instance, Instance],
    pg_url: str,
    tmp_path: Path,
) -> None:
    first, second = two_instances
    async with client_for(first) as a, client_for(second) as b:
        for port in (2501, 2502, 2503):
            writer, reader = (a, b) if port % 2 else (b, a)
            put = await writer.put("/KeyfactorAPI/SMTP", json=profile_body(port))
            assert put.status_code == 200, put.text
            got = await reader.get("/KeyfactorAPI/SMTP")
            assert got.json() == put.json()
            assert got.headers["etag"] == put.headers["etag"]

        bodies = [profile_body(3000 + n, SenderName=f"Writer {n}") for n in range(40)]
        responses = await asyncio.gather(
            *(
                (a if n % 2 else b).put("/KeyfactorAPI/SMTP", json=body)
                for n, body in enumerate(bodies)
            )
        )
        assert all(response.status_code == 200 for response in responses)
        final_a = (await a.get("/KeyfactorAPI/SMTP")).json()
        final_b = (await b.get("/KeyfactorAPI/SMTP")).json()
    assert final_a == final_b
    assert final_a["SenderName"] == f"Writer {final_a['Port'] - 3000}"
    env = pg_env(pg_url, tmp_path / "data1", tmp_path / "shared.key")
    code, out, _ = await run(env, "audit", "verify")
    assert code == 0, out
    assert re.search(r"(\d+) records verified", out)
    checked = int(re.search(r"(\d+) records verified", out).group(1))  # type: ignore[union-attr]
    assert checked == 3 + 40
    code, shown, _ = await run(env, "show")
    assert json.loads(shown) == final_a
