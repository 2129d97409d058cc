"""The five figures of the benchmark, each against a baseline measured in the same run."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import ssl
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import trustme

from bench.loadgen import (
    HttpConnection,
    LoadGenerator,
    LoadResult,
    Request,
    median,
    percentile,
    run_python,
)
from bench.procs import (
    PYTHON,
    REPO_ROOT,
    Pinning,
    ServerProcess,
    add_user,
    closed_port,
    read_status_kib,
    service_env,
    start_service,
)
from bench.report import Row, ratio_row
from smtp_profile.mail.message import build_test_message

ADMIN = ("bench-admin", "bench-admin-password-1")
RELAY_USER = ("bench-relay", "relay-password-123")
HELO_NAME = "bench.example.test"
SENDER = "alerts@example.com"
SENDER_NAME = "Certificate Alerts"
RECIPIENT = "you@example.com"
PATH = "/KeyfactorAPI/SMTP"
TEST_PATH = "/KeyfactorAPI/SMTP/Test"
MIB = 1024.0

# The README's PUT example: a realistic profile with a password (encrypted on every PUT).
PROFILE = {
    "Host": "smtp.example.com",
    "Port": 587,
    "UseSSL": True,
    "RelayAuthenticationType": 2,
    "RelayUsername": "CORP\\svc-mail",
    "RelayPassword": "s3cret-relay-password",
    "SenderAccount": SENDER,
    "SenderName": SENDER_NAME,
}


@dataclass(frozen=True)
class Plan:
    """Durations and counts: the full run, or ``--quick`` for a smoke run."""

    quick: bool
    get_rounds: int  # alternating bare/service rounds per concurrency
    get_seconds: int  # per round
    get_connections: tuple[int, ...]
    warmup_seconds: float
    auth_cache_seconds: int  # the service's default, for figure 1b
    put_seconds: int
    test_samples: int
    hung_tests: int
    relay_timeout: float
    isolation_get_seconds: int
    memory_requests: int
    memory_tests: int

    @classmethod
    def full(cls) -> Plan:
        return cls(
            quick=False,
            get_rounds=3,
            get_seconds=4,
            get_connections=(1, 16, 64),
            warmup_seconds=1.0,
            auth_cache_seconds=30,
            put_seconds=10,
            test_samples=300,
            hung_tests=50,
            relay_timeout=5.0,
            isolation_get_seconds=3,
            memory_requests=10_000,
            memory_tests=1_000,
        )

    @classmethod
    def smoke(cls) -> Plan:
        return cls(
            quick=True,
            get_rounds=1,
            get_seconds=1,
            get_connections=(1, 16, 64),
            warmup_seconds=0.3,
            auth_cache_seconds=1,
            put_seconds=1,
            test_samples=20,
            hung_tests=50,
            relay_timeout=2.0,
            isolation_get_seconds=1,
            memory_requests=1_000,
            memory_tests=100,
        )

    def as_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


# Steady-state figures use a login cache longer than the run, so they do not depend on
# when the default 30 s cache happens to expire; figure 1b measures that expiry.
STEADY_AUTH_CACHE = "3600"


def api_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "X-Keyfactor-Requested-With": "APIClient"}
    headers.update(extra or {})
    return headers


def json_request(method: str, path: str, body: dict[str, object]) -> Request:
    encoded = json.dumps(body, separators=(",", ":")).encode()
    return Request(method, path, api_headers({"Content-Type": "application/json"}), encoded)


GET = Request("GET", PATH, api_headers())
BARE_GET = Request("GET", PATH, {})


def test_body(port: int, *, tls_auth: bool = False) -> dict[str, object]:
    body: dict[str, object] = {
        "Host": "127.0.0.1",
        "Port": port,
        "UseSSL": tls_auth,
        "RelayAuthenticationType": 2 if tls_auth else 0,
        "SenderAccount": SENDER,
        "SenderName": SENDER_NAME,
        "TestRecipient": RECIPIENT,
    }
    if tls_auth:
        body["RelayUsername"], body["RelayPassword"] = RELAY_USER
    return body


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Relays:
    plain: int
    tls: int
    hung: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Context:
    plan: Plan
    workdir: Path
    pinning: Pinning
    loadgen: LoadGenerator
    ca_file: Path
    relays: Relays
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    servers: list[ServerProcess] = field(default_factory=list)

    def new_service(self, name: str, **settings: str) -> ServerProcess:
        data_dir = self.workdir / name
        env = service_env(
            data_dir,
            ca_file=str(self.ca_file),
            helo_name=HELO_NAME,
            connect_timeout=f"{self.plan.relay_timeout:g}",
            command_timeout=f"{self.plan.relay_timeout:g}",
            test_timeout=f"{self.plan.relay_timeout:g}",
            **settings,
        )
        add_user(env, *ADMIN)
        server = start_service(name, env=env, log_dir=self.workdir, pinning=self.pinning)
        self.servers.append(server)
        return server

    def record(self, key: str, result: LoadResult | dict[str, Any]) -> None:
        self.raw[key] = result.as_json() if isinstance(result, LoadResult) else result


# --------------------------------------------------------------------------- setup


def make_tls_material(directory: Path) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    issued.private_key_pem.write_to_path(str(key_file))
    cert_file.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    return ca_file, cert_file, key_file


def start_relays(workdir: Path, cert: Path, key: Path) -> Relays:
    """aiosmtpd (plain; STARTTLS+AUTH) and the hung listener, in a child process."""
    log_file = (workdir / "relays.log").open("wb")
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "bench.smtp_server",
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--user",
            ":".join(RELAY_USER),
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_file,
    )
    log_file.close()
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise RuntimeError("the SMTP relay process did not start; see relays.log")
    ports = json.loads(line)
    return Relays(ports["plain"], ports["tls"], ports["hung"], process)


async def seed_profile(server: ServerProcess) -> bytes:
    """Store the README's profile; returns the GET body the figures then read."""
    connection = HttpConnection(server.port)
    try:
        reply = await connection.send(json_request("PUT", PATH, PROFILE).encode(server.port))
        if reply.status != 200:
            raise RuntimeError(f"seeding PUT answered {reply.status}: {reply.body!r}")
        reply = await connection.send(GET.encode(server.port))
        if reply.status != 200:
            raise RuntimeError(f"GET answered {reply.status}: {reply.body!r}")
        return reply.body
    finally:
        await connection.close()


async def warm_up(port: int, request: Request, seconds: float = 1.0) -> None:
    if seconds <= 0:
        return
    await run_python(port, request, connections=4, duration_s=seconds)


def _errors_note(*results: LoadResult) -> str:
    bad = [r for r in results if r.errors]
    return "; ".join(f"{r.errors} errors/non-2xx at c={r.connections}" for r in bad)


# --------------------------------------------------------------------------- figure 1


def combine(results: list[LoadResult]) -> LoadResult:
    """Rounds of one side: throughput over all rounds, the median round's percentiles."""
    if len(results) == 1:
        return results[0]
    by_p99 = sorted(results, key=lambda r: r.p99_ms)
    middle = by_p99[len(by_p99) // 2]
    return LoadResult(
        generator=results[0].generator,
        connections=results[0].connections,
        duration_s=sum(r.duration_s for r in results),
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        p50_ms=median([r.p50_ms for r in results]),
        p90_ms=median([r.p90_ms for r in results]),
        p99_ms=middle.p99_ms,
        max_ms=max(r.max_ms for r in results),
        statuses=middle.statuses,
        detail={"rounds": [r.as_json() for r in results]},
    )


async def figure_get(
    ctx: Context, service: ServerProcess, bare: ServerProcess
) -> dict[int, LoadResult]:
    """Authenticated GET vs the bare endpoint at 1, 16 and 64 connections.

    Each concurrency runs ``get_rounds`` alternating rounds (bare, service, bare, ...),
    so that both sides see the same background noise.
    """
    generator = ctx.loadgen.name
    plan = ctx.plan
    bare_results: dict[int, LoadResult] = {}
    await warm_up(bare.port, BARE_GET, plan.warmup_seconds)
    await warm_up(service.port, GET, plan.warmup_seconds)
    for connections in plan.get_connections:
        log(
            f"figure 1: GET at {connections} connections "
            f"({plan.get_rounds} x {plan.get_seconds} s per side, alternating)"
        )
        bare_rounds: list[LoadResult] = []
        service_rounds: list[LoadResult] = []
        for _ in range(plan.get_rounds):
            for port, request, rounds in (
                (bare.port, BARE_GET, bare_rounds),
                (service.port, GET, service_rounds),
            ):
                rounds.append(
                    await ctx.loadgen.run(
                        port, request, connections=connections, duration_s=plan.get_seconds
                    )
                )
        bare_result, result = combine(bare_rounds), combine(service_rounds)
        bare_results[connections] = bare_result
        ctx.record(f"get_c{connections}_bare", bare_result)
        ctx.record(f"get_c{connections}_service", result)
        errors = _errors_note(bare_result, result)
        rows = [
            ratio_row(
                "1",
                f"GET /SMTP throughput, c={connections}",
                result.rps,
                "req/s",
                bare_result.rps,
                "bare",
                target=">= 0.70x bare",
                check=lambda r: r >= 0.7,
                generator=generator,
                note=errors,
            ),
            ratio_row(
                "1",
                f"GET /SMTP p50, c={connections}",
                result.p50_ms,
                "ms",
                bare_result.p50_ms,
                "bare",
                target="(info)",
                check=None,
                generator=generator,
            ),
            ratio_row(
                "1",
                f"GET /SMTP p99, c={connections}",
                result.p99_ms,
                "ms",
                bare_result.p99_ms,
                "bare",
                target="<= 2.0x bare",
                check=lambda r: r <= 2.0,
                generator=generator,
                note=f"max {result.max_ms:.1f} ms vs bare {bare_result.max_ms:.1f} ms",
            ),
        ]
        if errors:
            for row in rows:
                row.met = False if row.met is not None else None
        ctx.rows += rows
    return bare_results


async def figure_auth_expiry(ctx: Context, bare_c16: LoadResult) -> None:
    """GET at 16 connections across the expiry of the default login cache (figure 1b).

    A fresh service with the default ``SMTP_PROFILE_AUTH_CACHE_SECONDS``; its cache is
    filled by the first request, and the load runs until past its expiry.
    """
    plan = ctx.plan
    service = ctx.new_service("service-auth-cache", auth_cache_seconds=str(plan.auth_cache_seconds))
    await seed_profile(service)  # the first authenticated request fills the cache
    filled = time.monotonic()
    seconds = plan.auth_cache_seconds + (10 if not plan.quick else 4)
    log(f"figure 1b: GET at 16 connections for {seconds} s, across the login cache expiry")
    result = await ctx.loadgen.run(service.port, GET, connections=16, duration_s=seconds)
    crossed = time.monotonic() - filled > plan.auth_cache_seconds
    peak = read_status_kib(service.pid, "VmHWM") / MIB
    rss = service.rss_kib() / MIB
    service.stop()
    ctx.record("get_c16_auth_cache_expiry", result)
    row = ratio_row(
        "1b",
        f"GET /SMTP p99, c=16, across the {plan.auth_cache_seconds} s login cache expiry",
        result.p99_ms,
        "ms",
        bare_c16.p99_ms,
        "bare c=16",
        target="<= 2.0x bare",
        check=lambda r: r <= 2.0,
        generator=ctx.loadgen.name,
        note=(
            f"max {result.max_ms:.0f} ms; {result.rps:.0f} req/s over {result.duration_s:.0f} s; "
            f"peak RSS {peak:.0f} MiB (now {rss:.0f} MiB)"
            + ("" if crossed else "; the run ended before the cache expired")
            + (f"; {_errors_note(result)}" if result.errors else "")
        ),
    )
    if result.errors:
        row.met = False
    ctx.rows.append(row)


# --------------------------------------------------------------------------- figure 2


async def figure_put(
    ctx: Context,
    label: str,
    service: ServerProcess,
    bare_c16: LoadResult | None,
    *,
    also_get: bool = False,
) -> None:
    generator = ctx.loadgen.name
    put = json_request("PUT", PATH, PROFILE)
    await warm_up(service.port, put, ctx.plan.warmup_seconds / 2)
    log(f"figure 2: PUT at 16 connections on {label} ({ctx.plan.put_seconds} s)")
    result = await ctx.loadgen.run(
        service.port, put, connections=16, duration_s=ctx.plan.put_seconds
    )
    ctx.record(f"put_c16_{label.lower()}", result)
    baseline = bare_c16.rps if bare_c16 else None
    row = Row(
        "2",
        f"PUT /SMTP throughput, c=16, {label}",
        result.rps,
        "req/s",
        baseline,
        "bare GET c=16" if baseline else "-",
        "(info)",
        None,
        generator,
        note=(
            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
            + (f"; {_errors_note(result)}" if result.errors else "")
        ),
    )
    if result.errors:
        row.met = False
    ctx.rows.append(row)
    if also_get and bare_c16 is not None:
        log(f"figure 2 (info): GET at 16 connections on {label}")
        got = await ctx.loadgen.run(
            service.port, GET, connections=16, duration_s=ctx.plan.put_seconds
        )
        ctx.record(f"get_c16_{label.lower()}", got)
        ctx.rows.append(
            ratio_row(
                "2",
                f"GET /SMTP throughput, c=16, {label}",
                got.rps,
                "req/s",
                bare_c16.rps,
                "bare",
                target="(info)",
                check=None,
                generator=generator,
                note=f"p99 {got.p99_ms:.1f} ms vs bare {bare_c16.p99_ms:.1f} ms"
                + (f"; {_errors_note(got)}" if got.errors else ""),
            )
        )


class Postgres:
    """A throwaway cluster from tests/pg/cluster.py, or the reason there is none."""

    def __init__(self, allow_install: bool) -> None:
        self.allow_install = allow_install
        self.url: str | None = None
        self.skipped: str | None = None
        self._running: Any = None
        self._workdir: Path | None = None

    def start(self) -> None:
        """Blocking: install PostgreSQL if allowed and needed, initdb, start, create a db."""
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        from tests.pg import cluster as pg

        try:
            pg.find_bin_dir()
        except pg.ClusterError:
            script = REPO_ROOT / "tests" / "pg" / "install-debian-packages.sh"
            if self.allow_install and os.geteuid() == 0:
                log("installing PostgreSQL with tests/pg/install-debian-packages.sh")
                subprocess.run(["bash", str(script)], check=False, capture_output=True)
        try:
            pg.find_bin_dir()
            self._workdir = pg.new_workdir()
            self._running = pg.start_cluster(self._workdir)
            self.url = pg.create_database(self._running, "smtp_profile_bench")
        except pg.ClusterError as exc:
            self.skipped = str(exc).splitlines()[0]

    def stop(self) -> None:
        from tests.pg import cluster as pg

        if self._running is not None:
            pg.stop_cluster(self._running)
            self._running = None
        if self._workdir is not None:
            pg.remove_workdir(self._workdir)
            self._workdir = None


# --------------------------------------------------------------------------- figure 3


async def _direct_send(port: int, *, context: ssl.SSLContext | None) -> float:
    started = time.perf_counter()
    message = build_test_message(
        sender_account=SENDER,
        sender_name=SENDER_NAME,
        recipient=RECIPIENT,
        sent_at=datetime.now(UTC),
        message_id_domain=SENDER.rpartition("@")[2],
    )
    login = RELAY_USER if context is not None else (None, None)
    await aiosmtplib.send(
        message.as_bytes(),
        sender=SENDER,
        recipients=[RECIPIENT],
        hostname="127.0.0.1",
        port=port,
        local_hostname=HELO_NAME,
        start_tls=context is not None,
        tls_context=context,
        username=login[0],
        password=login[1],
        timeout=10,
    )
    return time.perf_counter() - started


async def figure_test_latency(ctx: Context, service: ServerProcess) -> None:
    """POST /SMTP/Test vs a direct aiosmtplib send, interleaved one by one."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.load_verify_locations(cafile=str(ctx.ca_file))  # built once, as the service does
    samples = ctx.plan.test_samples
    for label, port, tls_context in (
        ("plain", ctx.relays.plain, None),
        ("STARTTLS+AUTH", ctx.relays.tls, context),
    ):
        log(f"figure 3: {samples} Tests and {samples} direct sends, {label}")
        raw = json_request(
            "POST", TEST_PATH, test_body(port, tls_auth=tls_context is not None)
        ).encode(service.port)
        connection = HttpConnection(service.port)
        via_service: list[float] = []
        sessions: list[float] = []  # the service's own DurationMs: the SMTP session alone
        direct: list[float] = []
        failures: Counter[str] = Counter()
        try:
            for index in range(samples + 5):
                reply = await connection.send(raw)
                if reply.status != 200:
                    failures[f"{reply.status} {reply.body[:200]!r}"] += 1
                seconds = await _direct_send(port, context=tls_context)
                if index >= 5:  # the first few warm both paths up
                    via_service.append(reply.seconds)
                    direct.append(seconds)
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        sessions.append(float(json.loads(reply.body)["DurationMs"]) / 1000)
        finally:
            await connection.close()
        service_ms, direct_ms = median(via_service) * 1000, median(direct) * 1000
        session_ms = median(sessions) * 1000
        overhead = service_ms - direct_ms
        ctx.record(
            f"test_{label.lower()}",
            {
                "samples": samples,
                "service_median_ms": round(service_ms, 3),
                "service_p90_ms": round(percentile(via_service, 90) * 1000, 3),
                "direct_median_ms": round(direct_ms, 3),
                "direct_p90_ms": round(percentile(direct, 90) * 1000, 3),
                "median_overhead_ms": round(overhead, 3),
                "service_smtp_session_median_ms": round(session_ms, 3),
                "failures": dict(failures),
            },
        )
        row = Row(
            "3",
            f"POST /SMTP/Test median, {label}",
            service_ms,
            "ms",
            direct_ms,
            "direct aiosmtplib",
            "overhead <= 5 ms",
            overhead <= 5.0 and not failures,
            "python-asyncio (sequential, 1 connection)",
            note=f"overhead {overhead:+.2f} ms over {samples} interleaved pairs; the "
            f"service's own SMTP session (DurationMs, whole ms) median {session_ms:.0f} ms, "
            f"so {service_ms - session_ms:.1f} ms of the Test is outside the SMTP session"
            + (
                f"; {sum(failures.values())} Tests did not succeed: {dict(failures)}"
                if failures
                else ""
            ),
            extra={"overhead_ms": round(overhead, 3)},
        )
        ctx.rows.append(row)


# --------------------------------------------------------------------------- figure 4


async def _timed_test(port: int, raw: bytes) -> tuple[float, int, str]:
    connection = HttpConnection(port)
    started = time.perf_counter()
    try:
        reply = await connection.send(raw)
    finally:
        await connection.close()
    elapsed = time.perf_counter() - started
    try:
        body = json.loads(reply.body)
        stage = f"{body.get('Stage')}/{body.get('Hint') or body.get('ErrorCode')}"
    except ValueError:
        stage = "?"
    return elapsed, reply.status, stage


async def figure_isolation(ctx: Context, service: ServerProcess) -> None:
    """GET p99 while hung Tests wait on a silent relay, vs idle; each Test's wall time."""
    generator = ctx.loadgen.name
    seconds = ctx.plan.isolation_get_seconds
    timeout = ctx.plan.relay_timeout
    log(f"figure 4: idle GET p99 ({seconds} s at 16 connections)")
    idle = await ctx.loadgen.run(service.port, GET, connections=16, duration_s=seconds)
    raw = json_request("POST", TEST_PATH, test_body(ctx.relays.hung)).encode(service.port)
    count = ctx.plan.hung_tests
    log(f"figure 4: {count} Tests hang on a silent relay (timeout {timeout:g} s), GET meanwhile")
    started = time.perf_counter()
    tests = [asyncio.create_task(_timed_test(service.port, raw)) for _ in range(count)]
    await asyncio.sleep(min(0.5, timeout / 4))
    get_started = time.perf_counter() - started
    loaded = await ctx.loadgen.run(service.port, GET, connections=16, duration_s=seconds)
    get_ended = time.perf_counter() - started
    outcomes = await asyncio.gather(*tests)
    walls = [wall for wall, _, _ in outcomes]
    statuses = Counter(f"{status} {stage}" for _, status, stage in outcomes)
    ctx.record("isolation_idle_get", idle)
    ctx.record("isolation_loaded_get", loaded)
    ctx.record(
        "isolation_tests",
        {
            "count": count,
            "timeout_s": timeout,
            "wall_s": {
                "min": round(min(walls), 3),
                "median": round(median(walls), 3),
                "max": round(max(walls), 3),
            },
            "outcomes": dict(statuses),
            "get_window_s": [round(get_started, 3), round(get_ended, 3)],
        },
    )
    overlap = get_ended <= min(walls)
    errors = _errors_note(idle, loaded)
    p99 = ratio_row(
        "4",
        f"GET p99 during {count} hung Tests, c=16",
        loaded.p99_ms,
        "ms",
        idle.p99_ms,
        "idle GET",
        target="<= 2.0x idle",
        check=lambda r: r <= 2.0,
        generator=generator,
        note=(
            f"GET load ran {get_started:.1f}-{get_ended:.1f} s after the Tests started"
            + ("" if overlap else " (NOT entirely while all Tests hung)")
            + f"; throughput {loaded.rps:.0f} vs idle {idle.rps:.0f} req/s"
            + (f"; {errors}" if errors else "")
        ),
    )
    if errors or not overlap:
        p99.met = False
    ctx.rows.append(p99)
    all_timed_out = all(status == 400 for _, status, _ in outcomes)
    ctx.rows.append(
        Row(
            "4",
            f"slowest of {count} hung Tests (wall time)",
            max(walls),
            "s",
            timeout,
            "Test timeout",
            f"<= timeout + 1 s ({timeout + 1:g} s)",
            max(walls) <= timeout + 1.0 and all_timed_out,
            "python-asyncio (one connection per Test)",
            note=f"median {median(walls):.2f} s; outcomes {dict(statuses)}",
        )
    )


# --------------------------------------------------------------------------- figure 5


async def _settled_fd_count(server: ServerProcess, target: int, wait_s: float = 3.0) -> int:
    deadline = time.monotonic() + wait_s
    count = server.fd_count()
    while count > target and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        count = server.fd_count()
    return count


async def figure_memory(ctx: Context, service: ServerProcess) -> None:
    """RSS after many requests and failing Tests; growth over the second half; fds."""
    plan = ctx.plan
    fd_at_start = service.fd_count()
    await seed_profile(service)
    await asyncio.sleep(0.2)
    rss_start = service.rss_kib() / MIB
    log(f"figure 5: {plan.memory_requests} GETs, then {plan.memory_tests} failing Tests")
    gets = await run_python(service.port, GET, connections=16, total_requests=plan.memory_requests)
    rss_after_requests = service.rss_kib() / MIB
    fd_before_tests = await _settled_fd_count(service, fd_at_start)
    targets_before = service.fd_targets()
    closed = json_request("POST", TEST_PATH, test_body(closed_port()))
    half = plan.memory_tests // 2
    first = await run_python(service.port, closed, connections=8, total_requests=half)
    rss_half = service.rss_kib() / MIB
    fd_half = await _settled_fd_count(service, fd_before_tests)
    second = await run_python(service.port, closed, connections=8, total_requests=half)
    rss_after_tests = service.rss_kib() / MIB
    fd_after = await _settled_fd_count(service, fd_before_tests)
    targets_after = service.fd_targets()
    added = targets_after - targets_before
    removed = targets_before - targets_after
    failed_as_expected = first.statuses.get("400", 0) + second.statuses.get("400", 0) == 2 * half
    ctx.record(
        "memory",
        {
            "rss_mib": {
                "start": round(rss_start, 2),
                "after_requests": round(rss_after_requests, 2),
                "after_first_half_tests": round(rss_half, 2),
                "after_tests": round(rss_after_tests, 2),
            },
            "fds": {
                "at_start": fd_at_start,
                "before_tests": fd_before_tests,
                "after_first_half_tests": fd_half,
                "after": fd_after,
                "added": dict(added),
                "removed": dict(removed),
            },
            "requests": gets.as_json(),
            "tests_first_half": first.as_json(),
            "tests_second_half": second.as_json(),
        },
    )
    generator = "python-asyncio"
    growth = rss_after_tests - rss_half
    ctx.rows += [
        Row(
            "5",
            f"RSS after {gets.requests:,} GETs",
            rss_after_requests,
            "MiB",
            rss_start,
            "RSS at start",
            "(info)",
            None,
            generator,
            note=f"{gets.requests} GETs at {gets.rps:.0f} req/s, {gets.errors} errors",
        ),
        Row(
            "5",
            f"RSS after {2 * half:,} failing Tests",
            rss_after_tests,
            "MiB",
            rss_after_requests,
            "RSS after GETs",
            "(info)",
            None,
            generator,
            note=f"statuses {first.statuses} then {second.statuses}",
        ),
        Row(
            "5",
            f"RSS growth over the second {half} failing Tests",
            growth,
            "MiB",
            rss_half,
            f"RSS after {half} Tests",
            "< 5 MiB",
            growth < 5.0 and failed_as_expected,
            generator,
        ),
        Row(
            "5",
            "open fds after the failing Tests",
            float(fd_after),
            "fds",
            float(fd_before_tests),
            "before the Tests",
            "back to start (<=)",
            fd_after <= fd_before_tests,
            generator,
            note=f"{fd_at_start} when figure 5 began"
            + (f"; added {dict(added)}" if added else "")
            + (f"; removed {dict(removed)}" if removed else ""),
        ),
        Row(
            "5",
            f"open fds after the second {half} failing Tests",
            float(fd_after),
            "fds",
            float(fd_half),
            f"after the first {half}",
            "no growth (<=): no leak",
            fd_after <= fd_half,
            generator,
        ),
    ]
