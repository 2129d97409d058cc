"""Crash safety: ``kill -9`` of a real ``smtp-profile serve`` during a storm of PUTs.

Several clients PUT distinct profiles as fast as they can; when a randomly chosen number
of PUTs has been answered 200, the service gets SIGKILL (on PostgreSQL the database
server is then crashed too, and recovers on restart). Restarted on the same data:

* it starts (the stored password still decrypts), and ``smtp-profile audit verify`` passes;
* the stored profile is, field by field, one of the bodies that were PUT;
* no acknowledged PUT is lost: its revision is at most the final one, and the audit trail
  has its ``put`` record ("revision N"); there are at least as many put records as 200s;
* the audit trail has exactly one put record per revision 1..final, and the newest is
  the stored profile (its SenderName is the stored one);
* an acknowledged PUT whose revision is the final one is exactly the stored profile.

Nothing sleeps to pass: the kill happens when the k-th 200 arrives, and restarts wait
for /health/ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest

import smtp_profile.service as service_module
from smtp_profile.api.app import create_app
from smtp_profile.runtime import open_runtime
from tests.conftest import ADMIN, API_HEADERS, add_users, make_settings
from tests.hardening.support import free_port
from tests.pg.cluster import create_database, stop_cluster
from tests.pg.plugin import ClusterFactory
from tests.test_cli import cli_env, run

COMMAND = [sys.executable, "-m", "smtp_profile"]
SMTP_PATH = "/KeyfactorAPI/SMTP"
USER = ("storm-admin", "storm-password-123")
WORKERS = 8
ROUNDS = 2  # kill, restart, storm again, kill, restart
FIELDS = (
    "Host",
    "Port",
    "RelayAuthenticationType",
    "RelayUsername",
    "SenderAccount",
    "SenderName",
    "UseSSL",
    "HasPassword",
)


@dataclass
class Put:
    body: dict[str, Any]
    status: int | None = None  # None: no answer (the service died first)
    etag: str | None = None
    answer: dict[str, Any] | None = None

    @property
    def revision(self) -> int:
        assert self.etag is not None
        return _revision(self.etag)


def _revision(etag: str) -> int:
    assert etag.startswith('"r') and etag.endswith('"'), etag
    return int(etag[2:-1])


def body_for(round_: int, worker: int, seq: int) -> dict[str, Any]:
    """A distinct, valid profile (SenderName names it); every third one stores a password."""
    body: dict[str, Any] = {
        "Host": f"relay{worker}.example.test",
        "Port": 1000 + (seq % 50000),
        "RelayAuthenticationType": 0,
        "SenderAccount": f"w{worker}@example.test",
        "SenderName": f"round {round_} worker {worker} put {seq}",
        "UseSSL": seq % 2 == 0,
    }
    if seq % 3 == 0:
        body.update(
            RelayAuthenticationType=2,
            RelayUsername=f"CORP\\w{worker}",
            RelayPassword=f"secret-{round_}-{worker}-{seq}",
        )
    return body


def expected_view(body: dict[str, Any]) -> dict[str, Any]:
    with_login = body["RelayAuthenticationType"] == 2
    return {
        "Host": body["Host"],
        "Port": body["Port"],
        "RelayAuthenticationType": body["RelayAuthenticationType"],
        "RelayUsername": body.get("RelayUsername") if with_login else None,
        "SenderAccount": body["SenderAccount"],
        "SenderName": body["SenderName"],
        "UseSSL": body["UseSSL"],
        "HasPassword": with_login,
    }


class Service:
    """``smtp-profile serve`` as a child process, its log in a file (a full pipe would
    stall it)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self._log: BinaryIO | None = None

    async def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *COMMAND,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self._log,
        )
        async with asyncio.timeout(60), httpx.AsyncClient(base_url=self.url) as http:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(f"serve exited {self.process.returncode}:\n{self.log()}")
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)  # polling for readiness, not a delay to pass

    def kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)

    async def wait(self) -> int:
        assert self.process is not None
        code = await self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    async def stop(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.kill()
        await self.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class Storm:
    puts: list[Put] = field(default_factory=list)
    acknowledged: int = 0


async def storm(service: Service, round_: int, kill_after: int) -> Storm:
    """WORKERS clients PUT until the service dies; the one that sees the kill_after-th 200
    kills it."""
    result = Storm()

    async def worker(n: int) -> None:
        async with httpx.AsyncClient(
            base_url=service.url, headers=API_HEADERS, auth=USER, timeout=30
        ) as http:
            for seq in range(10_000):
                put = Put(body_for(round_, n, seq))
                result.puts.append(put)
                try:
                    response = await http.put(SMTP_PATH, json=put.body)
                except httpx.TransportError:
                    return  # the service is gone; this PUT may or may not have committed
                put.status = response.status_code
                assert response.status_code == 200, response.text
                put.etag = response.headers["etag"]
                put.answer = response.json()
                result.acknowledged += 1
                if result.acknowledged == kill_after:
                    service.kill()

    async with asyncio.timeout(120):
        await asyncio.gather(*(worker(n) for n in range(WORKERS)))
    assert await service.wait() == -signal.SIGKILL
    assert result.acknowledged >= kill_after
    return result


async def audit_puts(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every put record, oldest first."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        got = await http.get(
            "/KeyfactorAPI/Audit", params={"Operation": "put", "PageSize": 500, "Page": page}
        )
        assert got.status_code == 200, got.text
        data = got.json()
        items.extend(data["Items"])
        if len(items) >= data["Total"] or not data["Items"]:
            break
        page += 1
    return sorted(items, key=lambda item: item["Id"])


async def check_recovered(service: Service, puts: list[Put]) -> int:
    """The restarted service against everything that was sent; returns the final revision."""
    async with httpx.AsyncClient(
        base_url=service.url, headers=API_HEADERS, auth=USER, timeout=30
    ) as http:
        got = await http.get(SMTP_PATH)
        assert got.status_code == 200, got.text
        stored, final = got.json(), _revision(got.headers["etag"])
        records = await audit_puts(http)

    by_name = {put.body["SenderName"]: put for put in puts}
    view = {name: stored[name] for name in FIELDS}
    assert stored["SenderName"] in by_name, f"the stored profile was never PUT: {stored}"
    assert view == expected_view(by_name[stored["SenderName"]].body)

    acknowledged = [put for put in puts if put.status == 200]
    revisions = [put.revision for put in acknowledged]
    assert len(set(revisions)) == len(revisions), "two PUTs acknowledged with one revision"
    assert max(revisions) <= final, (max(revisions), final)
    recorded = [int(record["Detail"].removeprefix("revision ")) for record in records]
    assert recorded == list(range(1, final + 1)), "one put record per revision, in order"
    assert len(acknowledged) <= len(records)
    assert set(revisions) <= set(recorded), "an acknowledged PUT has no audit record"
    for put in acknowledged:
        assert put.answer is not None
        assert {name: put.answer[name] for name in FIELDS} == expected_view(put.body)
        if put.revision == final:
            assert view == expected_view(put.body)
    # The newest put record describes the stored profile (SenderName differs in every body).
    newest = {change["Field"]: change["After"] for change in records[-1]["Changes"] or []}
    assert newest["SenderName"] == stored["SenderName"]
    for name, after in newest.items():
        if name in FIELDS:
            assert stored[name] == after, (name, stored[name], after)
    return final


async def first_put(service: Service) -> Put:
    put = Put(body_for(-1, 0, 0))
    async with httpx.AsyncClient(base_url=service.url, headers=API_HEADERS, auth=USER) as http:
        response = await http.put(SMTP_PATH, json=put.body)
    assert response.status_code == 200, response.text
    put.status, put.etag, put.answer = 200, response.headers["etag"], response.json()
    return put


async def audit_verify(env: dict[str, str]) -> None:
    code, out, err = await run(env, "audit", "verify")
    assert code == 0, out + err


@contextlib.contextmanager
def seeded() -> Iterator[random.Random]:
    seed = int(os.environ.get("HARDENING_SEED", random.randrange(1 << 30)))
    print(f"\ncrash-safety seed {seed} (HARDENING_SEED={seed} repeats these kill points)")
    yield random.Random(seed)


async def crash_rounds(
    env: dict[str, str], log: Path, *, after_kill: Callable[[], Awaitable[None]] | None = None
) -> list[int]:
    code, _, err = await run(
        env, "users", "add", USER[0], "--role", "admin", "--password-stdin", stdin=USER[1] + "\n"
    )
    assert code == 0, err
    sent: list[Put] = []
    finals: list[int] = []
    with seeded() as rng:
        service = Service(env, log)
        try:
            await service.start()
            # One PUT alone first: concurrent first PUTs on an empty PostgreSQL database
            # fail (see test_concurrent_first_puts_on_postgres).
            sent.append(await first_put(service))
            for round_ in range(ROUNDS):
                result = await storm(service, round_, kill_after=rng.randint(15, 120))
                sent.extend(result.puts)
                if after_kill is not None:
                    await after_kill()
                service = Service(env, log)
                await service.start()
                finals.append(await check_recovered(service, sent))
                await audit_verify(env)
                unanswered = sum(put.status is None for put in result.puts)
                committed = finals[-1] - (finals[-2] if len(finals) > 1 else 1)  # 1: first_put
                print(
                    f"round {round_}: {result.acknowledged} PUTs answered 200, {unanswered} "
                    f"unanswered at the kill, {committed} committed"
                )
        finally:
            await service.stop()
    assert finals == sorted(finals) and finals[0] > 0
    return finals


async def test_kill_during_put_storm_sqlite(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", SMTP_PROFILE_LOG_LEVEL="warning")
    finals = await crash_rounds(env, tmp_path / "serve.log")
    print(f"final revisions after each crash: {finals}")


@pytest.mark.postgres
async def test_kill_during_put_storm_postgres(
    tmp_path: Path, pg_cluster_factory: ClusterFactory
) -> None:
    cluster = await asyncio.to_thread(pg_cluster_factory, durable=True)
    url = await asyncio.to_thread(create_database, cluster, "crash_storm")
    env = cli_env(
        tmp_path / "data",
        SMTP_PROFILE_DATABASE_URL=url,
        SMTP_PROFILE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
        SMTP_PROFILE_LOG_LEVEL="warning",
    )
    current = cluster

    async def crash_database() -> None:
        """The database server crashes right after the service (SIGQUIT: no checkpoint,
        WAL recovery on start)."""
        nonlocal current
        await asyncio.to_thread(stop_cluster, current, mode="immediate")
        current = await asyncio.to_thread(pg_cluster_factory.restart, current)

    finals = await crash_rounds(env, tmp_path / "serve.log", after_kill=crash_database)
    print(f"final revisions after each crash: {finals}")


@pytest.mark.postgres
async def test_concurrent_first_puts_on_postgres(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = open_runtime(make_settings(tmp_path / "d", database_url=pg_url))
    add_users(runtime)
    # Let both transactions read "no profile yet" before either writes (the interleaving
    # that the storm hits by chance). A fixed store makes the second read wait for the
    # first writer's lock instead: the barrier then times out and both go on.
    barrier = threading.Barrier(2)
    original = service_module.load_profile  # type: ignore[attr-defined]

    def load_then_meet(connection: Any, *, for_update: bool = False) -> Any:
        loaded = original(connection, for_update=for_update)
        if for_update:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=2)
        return loaded

    monkeypatch.setattr(service_module, "load_profile", load_then_meet)
    # As a server would: an unexpected error is a 500 answer, not an exception here.
    transport = httpx.ASGITransport(app=create_app(runtime), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=API_HEADERS, auth=ADMIN
        ) as http:
            responses = await asyncio.gather(
                *(
                    http.put(SMTP_PATH, json={**body_for(0, n, 1), "SenderName": f"first {n}"})
                    for n in range(2)
                )
            )
    finally:
        runtime.close()
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert sorted(_revision(r.headers["etag"]) for r in responses) == [1, 2]
