"""Profile the service under one benchmark load, to explain a missed target.

``py-spy`` samples the real ``smtp-profile serve`` process (started as the benchmark
starts it) while the load runs, and this prints the hottest functions (own time and
time including callees, as % of samples). The collapsed stacks are kept in
``bench/results/profile-<scenario>.txt`` (speedscope and flamegraph tools read them).

    python -m bench.profile get --connections 16 --seconds 10 --compare-bare
    python -m bench.profile auth-expiry          # GET c=16 across an auth-cache expiry
    python -m bench.profile put --seconds 10
    python -m bench.profile test-plain --samples 300
    python -m bench.profile test-tls --samples 300 --gil
    python -m bench.profile test-phases --samples 200   # no py-spy: each step's wall time
    python -m bench.profile gc --seconds 8     # full GC pauses under GET load, +/- gc.freeze()

``--gil`` keeps only samples of the thread holding the GIL: Python CPU work, without
the event loop's wait in ``epoll`` (which py-spy may otherwise count as busy).
``--idle`` also counts samples of threads waiting (in a system call or a lock): use it
for latency questions (where does the wall time go), not for CPU questions.
py-spy is installed into the venv on first use (``pip install py-spy``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.figures import (
    BARE_GET,
    GET,
    PATH,
    PROFILE,
    TEST_PATH,
    Context,
    Plan,
    json_request,
    log,
    make_tls_material,
    seed_profile,
    start_relays,
    test_body,
    warm_up,
)
from bench.loadgen import HttpConnection, LoadGenerator, median
from bench.procs import PYTHON, ServerProcess, choose_pinning, ensure_wrk, start_bare

RESULTS = Path(__file__).resolve().parent / "results"
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    if not Path(found).exists():
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return found


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def _package(frame: str) -> str:
    """The library a (shortened) frame belongs to: ``fastapi``, ``asyncio``, ``uuid``..."""
    match = re.search(r"\(([^()]*)\)$", frame)
    path = match.group(1) if match else ""
    if path.startswith("<"):
        return "python (runpy)"
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") or "?"


@dataclass
class Samples:
    total: int
    own: Counter[str]
    inclusive: Counter[str]
    packages: Counter[str]


def load_samples(collapsed: Path) -> Samples:
    """Own time by leaf frame; "including callees" by any frame of the sampled stack.

    Coroutine frames run by the C Task implementation appear without their callers
    (py-spy cannot see through it), so inclusive figures are lower bounds.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";") if frame]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        packages[_package(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    return Samples(total, own, inclusive, packages)


def summarize(samples: Samples, top: int, us_per_request: float | None = None) -> str:
    if not samples.total:
        return "no samples"
    total = samples.total
    lines = [f"{total} samples"]
    if us_per_request is not None:
        lines[0] += f"; {us_per_request:.0f} us of CPU per request"
    lines.append("\nOwn time by package" + (" (% and us/request):" if us_per_request else ":"))
    for package, count in samples.packages.most_common(12):
        share = count / total
        cost = f"  {share * us_per_request:6.1f} us" if us_per_request else ""
        lines.append(f"  {100 * share:5.1f}%{cost}  {package}")
    for title, counter in (("own time", samples.own), ("including callees", samples.inclusive)):
        lines.append(f"\nTop {top} by {title}:")
        for frame, count in counter.most_common(top):
            cost = f"  {count / total * us_per_request:6.1f} us" if us_per_request else ""
            lines.append(f"  {100 * count / total:5.1f}%{cost}  {frame}")
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    ctx: Context, server: ServerProcess, options: argparse.Namespace, *, bare: bool = False
) -> int:
    """Run the scenario's load; returns the number of requests answered."""
    scenario = options.scenario
    if scenario in ("get", "auth-expiry"):
        result = await ctx.loadgen.run(
            server.port,
            BARE_GET if bare else GET,
            connections=options.connections,
            duration_s=options.seconds,
        )
    elif scenario == "put":
        result = await ctx.loadgen.run(
            server.port,
            json_request("PUT", PATH, PROFILE),
            connections=options.connections,
            duration_s=options.seconds,
        )
    else:
        port = ctx.relays.tls if scenario == "test-tls" else ctx.relays.plain
        raw = json_request(
            "POST", TEST_PATH, test_body(port, tls_auth=scenario == "test-tls")
        ).encode(server.port)
        connection = HttpConnection(server.port)
        times = []
        try:
            for _ in range(options.samples):
                reply = await connection.send(raw)
                times.append(reply.seconds)
        finally:
            await connection.close()
        log(f"{len(times)} Tests, median {median(times) * 1000:.2f} ms")
        return len(times)
    log(
        f"{server.name}: {result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, max {result.max_ms:.1f} ms ({result.generator})"
    )
    return result.requests


async def profile_server(
    ctx: Context, server: ServerProcess, options: argparse.Namespace, *, bare: bool = False
) -> None:
    label = f"{options.scenario}{'-bare' if bare else ''}"
    collapsed = RESULTS / f"profile-{label}.txt"
    collapsed.parent.mkdir(parents=True, exist_ok=True)
    args = [
        py_spy(),
        "record",
        "--pid",
        str(server.pid),
        "--rate",
        str(options.rate),
        "--format",
        "raw",
        "--output",
        str(collapsed),
        "--nonblocking",
    ]
    if options.idle:
        args.append("--idle")
    if options.gil:
        args.append("--gil")
    spy = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(1.0)  # py-spy attaches
    log(f"profiling {label} with py-spy (pid {server.pid})")
    cpu_before = cpu_seconds(server.pid)
    requests = await _load(ctx, server, options, bare=bare)
    cpu_used = cpu_seconds(server.pid) - cpu_before
    spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
    _, err = await spy.communicate()
    if not collapsed.exists():
        raise RuntimeError(f"py-spy wrote nothing: {err.decode(errors='replace')}")
    per_request = cpu_used / requests * 1e6 if requests else None
    print(f"\nProfile of {label} ({collapsed}):")
    print(summarize(load_samples(collapsed), options.top, per_request))


async def run(options: argparse.Namespace) -> None:
    pinning = choose_pinning(True)
    pinning.pin_self_to_client()
    wrk, _ = ensure_wrk(allow_install=True)
    plan = Plan.full()
    workdir = Path(tempfile.mkdtemp(prefix="smtp-profile-profile-"))
    ca_file, cert, key = make_tls_material(workdir)
    relays = start_relays(workdir, cert, key)
    ctx = Context(plan, workdir, pinning, LoadGenerator(wrk, []), ca_file, relays)
    settings = {}
    if options.scenario == "get":
        settings["auth_cache_seconds"] = "3600"  # steady state, without the expiry
    elif options.scenario == "auth-expiry":
        settings["auth_cache_seconds"] = str(options.cache_seconds)
        options.seconds = max(options.seconds, options.cache_seconds + 5)
    try:
        service = ctx.new_service("service", **settings)
        body = await seed_profile(service)
        await warm_up(service.port, GET)
        if options.compare_bare:
            bare = start_bare(len(body), log_dir=workdir, pinning=pinning)
            ctx.servers.append(bare)
            await warm_up(bare.port, BARE_GET)
            await profile_server(ctx, bare, options, bare=True)
        await profile_server(ctx, service, options)
    finally:
        for server in ctx.servers:
            server.stop()
        relays.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_phases(samples: int) -> None:
    """Wall time of each step of a Test inside the service layer (in this process, on one
    CPU), next to a direct aiosmtplib send of the same message to the same relay."""
    import ssl
    import time

    from bench.figures import HELO_NAME, _direct_send
    from bench.loadgen import percentile
    from smtp_profile.accounts import Principal, Role
    from smtp_profile.audit import Operation
    from smtp_profile.mail.sender import run_test
    from smtp_profile.profile import parse_test_request
    from smtp_profile.runtime import open_runtime
    from smtp_profile.settings import Settings

    cpus = sorted(os.sched_getaffinity(0))
    workdir = Path(tempfile.mkdtemp(prefix="smtp-profile-phases-"))
    ca_file, cert, key = make_tls_material(workdir)
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))  # the relay process inherits the other CPUs
    relays = start_relays(workdir, cert, key)
    os.sched_setaffinity(0, {cpus[0]})
    runtime = open_runtime(
        Settings(data_dir=workdir / "data", ca_file=ca_file, helo_name=HELO_NAME, test_rate_limit=0)
    )
    service = runtime.service
    actor = Principal("bench", Role.ADMIN)
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(ca_file))
    try:
        for label, port, tls in (
            ("plain", relays.plain, False),
            ("STARTTLS+AUTH", relays.tls, True),
        ):
            request = parse_test_request(test_body(port, tls_auth=tls))
            steps: dict[str, list[float]] = {
                "direct aiosmtplib send (baseline)": [],
                "_login_for in a thread": [],
                "build_plan (message)": [],
                "run_test (SMTP session)": [],
                "audit record in a thread": [],
                "service.test (all of the above)": [],
            }
            names = list(steps)
            for _ in range(samples + 10):
                started = time.perf_counter()
                await _direct_send(port, context=context if tls else None)
                marks = [time.perf_counter()]
                login = await asyncio.to_thread(service._login_for, request.profile)
                marks.append(time.perf_counter())
                plan = service.build_plan(request, login=login)
                marks.append(time.perf_counter())
                outcome = await run_test(plan)
                marks.append(time.perf_counter())
                entry = runtime.trail.entry(
                    user=actor.name, client=None, operation=Operation.TEST, outcome="ok"
                )
                await asyncio.to_thread(runtime.trail.record, entry)
                marks.append(time.perf_counter())
                await service.test(request, actor=actor)
                marks.append(time.perf_counter())
                if not outcome.success:
                    raise RuntimeError(f"the Test failed: {outcome.summary()}")
                previous = started
                for name, mark in zip(names, marks, strict=True):
                    steps[name].append(mark - previous)
                    previous = mark
            print(f"\n{label}: {samples} samples, ms (median, p90)")
            for name, values in steps.items():
                values = values[10:]
                print(
                    f"  {median(values) * 1000:7.2f} {percentile(values, 90) * 1000:7.2f}  {name}"
                )
    finally:
        runtime.close()
        relays.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def gc_pauses(options: argparse.Namespace) -> None:
    """GET load at 16 and 64 connections; the service's full (generation 2) collections
    during it, as started now and with ``gc.freeze()`` after startup (bench/gcwatch.py)."""
    import json

    from bench.figures import ADMIN, STEADY_AUTH_CACHE
    from bench.procs import add_user, free_port, service_env, start_server

    pinning = choose_pinning(True)
    pinning.pin_self_to_client()
    wrk, _ = ensure_wrk(allow_install=True)
    loadgen = LoadGenerator(wrk, [])
    for freeze in [False, True] * options.rounds:
        workdir = Path(tempfile.mkdtemp(prefix="smtp-profile-gc-"))
        env = service_env(workdir / "data", auth_cache_seconds=STEADY_AUTH_CACHE)
        add_user(env, *ADMIN)
        port = free_port()
        out = workdir / "gc.json"
        args = [PYTHON, "-m", "bench.gcwatch", str(out), "--port", str(port)]
        server = start_server(
            "gcwatch",
            [*args, *(["--freeze"] if freeze else [])],
            port=port,
            env=env,
            log_dir=workdir,
            pinning=pinning,
        )
        try:
            await seed_profile(server)
            await warm_up(server.port, GET)
            await asyncio.sleep(0.5)
            before = {g: len(v) for g, v in json.loads(out.read_text())["pauses_ms"].items()}
            results = []
            for connections in (16, 64):
                result = await loadgen.run(
                    server.port, GET, connections=connections, duration_s=options.seconds
                )
                results.append(
                    f"c={connections}: {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                    f"max {result.max_ms:.1f} ms"
                )
            await asyncio.sleep(0.5)
            document = json.loads(out.read_text())
            during = {g: v[before[g] :] for g, v in document["pauses_ms"].items()}
            young = " ".join(
                f"gen{g} {len(during[g])}x max {max(during[g], default=0):.1f} ms" for g in "01"
            )
            print(
                f"gc.freeze() {'after startup' if freeze else 'not called  '} "
                f"({document['frozen']} objects frozen): full collections during the load "
                f"{during['2']} ms ({young}) | " + " | ".join(results)
            )
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)


SCENARIOS = ("get", "auth-expiry", "put", "test-plain", "test-tls", "test-phases", "gc")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--samples", type=int, default=300, help="Tests (test-* scenarios)")
    parser.add_argument("--cache-seconds", type=int, default=30, help="auth-expiry: cache")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--idle", action="store_true", help="count waiting threads too")
    parser.add_argument(
        "--gil", action="store_true", help="only samples holding the GIL (CPU in Python)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="gc: with/without pairs")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--compare-bare", action="store_true", help="get: profile the bare endpoint first"
    )
    options = parser.parse_args(argv)
    if options.scenario == "test-phases":
        asyncio.run(test_phases(options.samples))
        return 0
    if options.scenario == "gc":
        asyncio.run(gc_pauses(options))
        return 0
    asyncio.run(run(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
