"""Load generators: ``wrk`` with a Lua script, and a small asyncio HTTP/1.1 client.

Both keep connections alive and report throughput and latency percentiles. wrk is
closed-loop (each connection sends its next request when the previous answer arrived),
and so is the Python client, so their figures are comparable in kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRK_MARKER = "BENCH_JSON "

_DONE_HOOK = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latency_us":{"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f,"max":%.0f,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
"""


@dataclass
class LoadResult:
    """One load run against one endpoint."""

    generator: str
    connections: int
    duration_s: float
    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "connections": self.connections,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "statuses": self.statuses,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""

    def encode(self, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


# --------------------------------------------------------------------------- wrk


def _lua_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def wrk_script(request: Request) -> str:
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    lines += [
        f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}"
        for name, value in request.headers.items()
    ]
    if request.body:
        lines.append(f"wrk.body = {_lua_string(request.body.decode('utf-8'))}")
    return "\n".join(lines) + "\n" + _DONE_HOOK


def _write_script(text: str) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(text)
    return Path(script.name)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


async def run_wrk(
    wrk: str,
    port: int,
    request: Request,
    *,
    connections: int,
    duration_s: float,
    cpu_prefix: Sequence[str] = (),
) -> LoadResult:
    script = _write_script(wrk_script(request))
    try:
        args = [
            *cpu_prefix,
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{request.path}",
        ]
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
    finally:
        _remove(script)
    text = out.decode(errors="replace")
    found = [line for line in text.splitlines() if line.startswith(WRK_MARKER)]
    if process.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({process.returncode}): {text}\n{err.decode()}")
    data = json.loads(found[-1][len(WRK_MARKER) :])
    errors = data["errors"]
    latency = data["latency_us"]
    return LoadResult(
        generator="wrk",
        connections=connections,
        duration_s=data["duration_us"] / 1e6,
        requests=int(data["requests"]),
        errors=int(sum(errors.values())),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        statuses={"non_2xx_3xx": int(errors["status"])},
        detail={"wrk_errors": errors},
    )


# --------------------------------------------------------------------------- asyncio client


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; ``send`` times one request-response."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self._reader, self._writer

    async def send(self, raw: bytes) -> Reply:
        started = time.perf_counter()
        reader, writer = await self._open()
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length = 0
        close = False
        for line in header_lines:
            name, _, value = line.partition(":")
            lowered = name.strip().lower()
            if lowered == "content-length":
                length = int(value.strip())
            elif lowered == "connection" and value.strip().lower() == "close":
                close = True
        body = await reader.readexactly(length) if length else b""
        seconds = time.perf_counter() - started
        if close:
            await self.close()
        return Reply(status, body, seconds)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def run_python(
    port: int,
    request: Request,
    *,
    connections: int,
    duration_s: float | None = None,
    total_requests: int | None = None,
) -> LoadResult:
    """Closed-loop load from ``connections`` connections, for a time or a request count."""
    raw = request.encode(port)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    remaining = [total_requests if total_requests is not None else -1]
    started = time.perf_counter()
    deadline = started + duration_s if duration_s is not None else math.inf

    async def worker() -> None:
        nonlocal errors
        connection = HttpConnection(port)
        try:
            while time.perf_counter() < deadline:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
                try:
                    reply = await connection.send(raw)
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    await connection.close()
                    continue
                latencies.append(reply.seconds)
                statuses[str(reply.status)] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    bad = sum(count for status, count in statuses.items() if not status.startswith(("2", "3")))
    return LoadResult(
        generator="python-asyncio",
        connections=connections,
        duration_s=elapsed,
        requests=len(latencies),
        errors=errors + bad,
        p50_ms=percentile(latencies, 50) * 1000,
        p90_ms=percentile(latencies, 90) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
        statuses=dict(statuses),
    )


class LoadGenerator:
    """wrk when available, else the asyncio client; same call either way."""

    def __init__(self, wrk: str | None, cpu_prefix: Sequence[str]) -> None:
        self.wrk = wrk
        self.cpu_prefix = list(cpu_prefix)

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "python-asyncio"

    async def run(
        self, port: int, request: Request, *, connections: int, duration_s: float
    ) -> LoadResult:
        if self.wrk:
            return await run_wrk(
                self.wrk,
                port,
                request,
                connections=connections,
                duration_s=duration_s,
                cpu_prefix=self.cpu_prefix,
            )
        return await run_python(port, request, connections=connections, duration_s=duration_s)
