"""Processes the benchmark runs: the service, the bare app, helpers; CPU pinning; /proc."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the servers and the load generator use (empty: not pinned)."""

    server_cpus: frozenset[int] = frozenset()
    client_cpus: frozenset[int] = frozenset()

    @property
    def enabled(self) -> bool:
        return bool(self.server_cpus and self.client_cpus)

    def describe(self) -> str:
        if not self.enabled:
            return "not pinned (servers and load generator share every CPU)"
        return (
            f"servers pinned to CPU {_cpus(self.server_cpus)} with taskset; load generator, "
            f"SMTP server and PostgreSQL on CPU {_cpus(self.client_cpus)}"
        )

    def server_prefix(self) -> list[str]:
        return ["taskset", "-c", _cpus(self.server_cpus)] if self.enabled else []

    def pin_self_to_client(self) -> None:
        if self.enabled:
            os.sched_setaffinity(0, self.client_cpus)


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def choose_pinning(enabled: bool) -> Pinning:
    available = sorted(os.sched_getaffinity(0))
    if not enabled or len(available) < 2 or shutil.which("taskset") is None:
        return Pinning()
    return Pinning(server_cpus=frozenset({available[0]}), client_cpus=frozenset(available[1:]))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    return free_port()


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before listening on {port}:\n"
                + log.read_text(errors="replace")[-4000:]
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {START_TIMEOUT:g} s")


@dataclass
class ServerProcess:
    """A server subprocess (the service or the bare app) listening on 127.0.0.1:port."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """The server's own pid (``taskset`` execs it, so it is the Popen pid)."""
        return self.process.pid

    def rss_kib(self) -> int:
        return read_status_kib(self.pid, "VmRSS")

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def fd_targets(self) -> Counter[str]:
        """What the open descriptors point at (files by name; sockets, pipes by kind)."""
        targets: Counter[str] = Counter()
        directory = f"/proc/{self.pid}/fd"
        for name in os.listdir(directory):
            try:
                target = os.readlink(f"{directory}/{name}")
            except OSError:
                continue
            kind = target.split(":", 1)[0] if ":[" in target else Path(target).name
            targets[kind] += 1
        return targets

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def read_status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def start_server(
    name: str,
    args: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    log_dir: Path,
    pinning: Pinning,
) -> ServerProcess:
    log_file = log_dir / f"{name}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [*pinning.server_prefix(), *args],
            env=dict(env),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(name, port, process, log_file)
    try:
        wait_for_port(port, process, log_file)
    except BaseException:
        server.stop()
        raise
    return server


def service_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_PROFILE_")}
    env.update(
        {
            "SMTP_PROFILE_DATA_DIR": str(data_dir),
            "SMTP_PROFILE_TEST_RATE_LIMIT": "0",
            "SMTP_PROFILE_LOG_LEVEL": "warning",
        }
    )
    env.update({f"SMTP_PROFILE_{key.upper()}": value for key, value in settings.items()})
    return env


def add_user(env: Mapping[str, str], name: str, password: str, role: str = "admin") -> None:
    """``smtp-profile users add NAME --role admin --password-stdin``, as an operator would."""
    result = subprocess.run(
        [PYTHON, "-m", "smtp_profile", "users", "add", name, "--role", role, "--password-stdin"],
        input=f"{password}\n".encode(),
        env=dict(env),
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"users add failed: {result.stderr.decode(errors='replace')}")


def start_service(
    name: str, *, env: Mapping[str, str], log_dir: Path, pinning: Pinning
) -> ServerProcess:
    port = free_port()
    args = [PYTHON, "-m", "smtp_profile", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return start_server(name, args, port=port, env=env, log_dir=log_dir, pinning=pinning)


def start_bare(body_bytes: int, *, log_dir: Path, pinning: Pinning) -> ServerProcess:
    port = free_port()
    args = [
        PYTHON,
        "-m",
        "bench.bare_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--body-bytes",
        str(body_bytes),
    ]
    env = dict(os.environ)
    return start_server("bare", args, port=port, env=env, log_dir=log_dir, pinning=pinning)


def ensure_wrk(allow_install: bool) -> tuple[str | None, str]:
    """The wrk binary, installing Debian's package when root; else (None, why not)."""
    found = shutil.which("wrk")
    if found:
        return found, "found on PATH"
    if not allow_install:
        return None, "wrk not installed (--no-install)"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "wrk not installed and not root with apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True, check=False
    )
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True, check=False
        )
    found = shutil.which("wrk")
    if found:
        return found, "installed with apt-get install -y wrk"
    return None, f"apt-get install wrk failed: {result.stderr.decode(errors='replace')[-300:]}"
