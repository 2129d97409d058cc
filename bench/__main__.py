"""``python -m bench``: measure the running service against same-run baselines.

Prints a table and writes ``bench/results/latest.json``. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.figures import (
    BARE_GET,
    STEADY_AUTH_CACHE,
    Context,
    Plan,
    Postgres,
    figure_auth_expiry,
    figure_get,
    figure_isolation,
    figure_memory,
    figure_put,
    figure_test_latency,
    log,
    make_tls_material,
    seed_profile,
    start_relays,
)
from bench.loadgen import HttpConnection, LoadGenerator, LoadResult
from bench.procs import REPO_ROOT, choose_pinning, ensure_wrk, start_bare
from bench.report import render_table, write_json

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
ALL_FIGURES = (1, 2, 3, 4, 5)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 s loads, few samples (seconds)"
    )
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="HTTP load generator for figures 1, 2 and 4 (auto: wrk, installed if missing)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs with taskset")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install wrk or PostgreSQL"
    )
    parser.add_argument(
        "--figures",
        default=",".join(str(f) for f in ALL_FIGURES),
        help="comma list of figures to run (default: all)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON result file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def _command_output(args: list[str]) -> str | None:
    try:
        result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else None


@dataclass(frozen=True)
class CpuClock:
    """Busy CPU seconds of the whole machine and of this process tree (waited children)."""

    machine: float
    ours: float
    at: float

    @classmethod
    def now(cls) -> CpuClock:
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ours = sum(int(own[index]) for index in (11, 12, 13, 14))
        busy = user + nice + system + irq + softirq + steal
        return cls(busy / tick, ours / tick, time.monotonic())

    def since(self, start: CpuClock) -> dict[str, float]:
        """Other processes' CPU use over the interval (valid once our children are waited)."""
        elapsed = self.at - start.at
        others = max(0.0, (self.machine - start.machine) - (self.ours - start.ours))
        capacity = elapsed * (os.cpu_count() or 1)
        return {
            "elapsed_s": round(elapsed, 1),
            "benchmark_cpu_s": round(self.ours - start.ours, 1),
            "other_processes_cpu_s": round(others, 1),
            "other_processes_share": round(others / capacity, 3) if capacity else 0.0,
        }


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def machine() -> dict[str, Any]:
    model = None
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": _command_output(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]),
    }


async def _check_bare(port: int, size: int) -> None:
    connection = HttpConnection(port)
    try:
        reply = await connection.send(BARE_GET.encode(port))
    finally:
        await connection.close()
    if reply.status != 200 or len(reply.body) != size:
        raise RuntimeError(f"bare endpoint answered {reply.status} with {len(reply.body)} bytes")


async def run(options: argparse.Namespace) -> dict[str, Any]:
    plan = Plan.smoke() if options.quick else Plan.full()
    figures = {int(f) for f in options.figures.split(",") if f.strip()}
    pinning = choose_pinning(not options.no_pin)
    pinning.pin_self_to_client()  # this process is the Python client; children inherit
    wrk, wrk_how = (None, "not requested")
    if options.loadgen != "python":
        wrk, wrk_how = ensure_wrk(allow_install=not options.no_install)
        if wrk is None and options.loadgen == "wrk":
            raise SystemExit(f"wrk requested but unavailable: {wrk_how}")
    loadgen = LoadGenerator(wrk, [])
    generator_info = {
        "http_load": loadgen.name,
        "wrk": {"path": wrk, "version": _command_output([wrk, "-v"]), "how": wrk_how}
        if wrk
        else {"unavailable": wrk_how},
        "python_client": "bench/loadgen.py HttpConnection: asyncio, keep-alive, "
        "per-request perf_counter latency (figures 3, 5 and the Tests of figure 4)",
        "pinning": pinning.describe(),
    }
    log(f"load generator: {loadgen.name} ({wrk_how}); {pinning.describe()}")

    workdir = Path(tempfile.mkdtemp(prefix="smtp-profile-bench-"))
    ca_file, cert, key = make_tls_material(workdir)
    relays = start_relays(workdir, cert, key)
    ctx = Context(plan, workdir, pinning, loadgen, ca_file, relays)
    started = time.monotonic()
    postgres = Postgres(allow_install=not options.no_install)
    postgres_start: asyncio.Task[None] | None = None
    if plan.quick and 2 in figures:  # overlap initdb with the other smoke figures
        postgres_start = asyncio.create_task(asyncio.to_thread(postgres.start))
    cpu_start = CpuClock.now()
    load_start = loadavg()
    try:
        service = ctx.new_service("service", auth_cache_seconds=STEADY_AUTH_CACHE)
        body = await seed_profile(service)
        bare = start_bare(len(body), log_dir=workdir, pinning=pinning)
        ctx.servers.append(bare)
        await _check_bare(bare.port, len(body))
        ctx.raw["get_body_bytes"] = len(body)
        bare_results: dict[int, LoadResult] = {}
        if 1 in figures:
            bare_results = await figure_get(ctx, service, bare)
        bare_c16 = bare_results.get(16)
        if bare_c16 is None and figures & {1, 2}:
            bare_c16 = await loadgen.run(
                bare.port, BARE_GET, connections=16, duration_s=plan.put_seconds
            )
        if 1 in figures and bare_c16 is not None:
            await figure_auth_expiry(ctx, bare_c16)
        if 2 in figures:
            await figure_put(ctx, "SQLite", service, bare_c16)
            if postgres_start is None:
                postgres_start = asyncio.create_task(asyncio.to_thread(postgres.start))
            await postgres_start
            if postgres.url is None:
                ctx.raw["postgres_skipped"] = postgres.skipped
                log(f"figure 2: PostgreSQL skipped: {postgres.skipped}")
            else:
                pg_service = ctx.new_service(
                    "service-pg", database_url=postgres.url, auth_cache_seconds=STEADY_AUTH_CACHE
                )
                await seed_profile(pg_service)
                await figure_put(ctx, "PostgreSQL", pg_service, bare_c16, also_get=True)
                pg_service.stop()
            postgres.stop()
        if 3 in figures:
            await figure_test_latency(ctx, service)
        if 4 in figures:
            await figure_isolation(ctx, service)
        if 5 in figures:
            memory_service = ctx.new_service("service-memory", auth_cache_seconds=STEADY_AUTH_CACHE)
            await figure_memory(ctx, memory_service)
    finally:
        for server in ctx.servers:
            server.stop()
        relays.stop()
        if options.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    background: dict[str, Any] = {
        **CpuClock.now().since(cpu_start),
        "loadavg_at_start": load_start,
    }
    return {
        "background": background,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if options.quick else "full",
        "elapsed_s": round(time.monotonic() - started, 1),
        "load_generator": generator_info,
        "machine": machine(),
        "plan": plan.as_json(),
        "figures": [row.as_json() for row in ctx.rows],
        "summary": {
            "with_target": sum(row.met is not None for row in ctx.rows),
            "met": sum(row.met is True for row in ctx.rows),
            "missed": [row.name for row in ctx.rows if row.met is False],
        },
        "runs": ctx.raw,
        "_rows": ctx.rows,
    }


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    document = asyncio.run(run(options))
    rows = document.pop("_rows")
    write_json(options.output, document)
    info = document["load_generator"]
    print()
    print(
        f"smtp-profile benchmark ({document['mode']} run, {document['elapsed_s']} s, "
        f"{document['machine']['cpus']} CPUs)"
    )
    print(f"HTTP load generator: {info['http_load']}", end="")
    if "version" in info["wrk"]:
        print(f" ({info['wrk']['version']}; Lua script sets the headers, done() prints JSON)")
    else:
        print(f" (wrk unavailable: {info['wrk']['unavailable']})")
    print(f"Pinning: {info['pinning']}")
    background = document["background"]
    print(
        f"Background: other processes used {background['other_processes_cpu_s']} CPU-s "
        f"({100 * background['other_processes_share']:.0f}% of the machine) during the run "
        f"(load average at start {' '.join(background['loadavg_at_start'])})"
        + ("; figures are noisy" if background["other_processes_share"] > 0.1 else "")
    )
    print("Baselines are measured in this same run on this machine. Ratio = value / baseline.\n")
    print(render_table(rows))
    summary = document["summary"]
    print(
        f"\n{summary['met']} of {summary['with_target']} targets met."
        + (f" Missed: {'; '.join(summary['missed'])}" if summary["missed"] else "")
    )
    print(f"JSON: {options.output}")
    return 1 if options.strict and summary["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
