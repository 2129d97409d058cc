"""Throwaway PostgreSQL clusters for tests, built on Debian's ``postgresql`` package.

A cluster is created with ``initdb`` inside a work directory, started with
``postgres`` on 127.0.0.1 and a free high port (its unix socket also lives in
the work directory), reached with scram-sha-256 password auth, and stopped by
signalling its postmaster pid. As root the server runs as the ``postgres``
system user (PostgreSQL refuses to run as root); otherwise as the current user.
Nothing here touches, or depends on, a system cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL

HOST = "127.0.0.1"
SUPERUSER = "pgtest"
ADMIN_DB = "postgres"
SERVER_OS_USER = "postgres"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
BINDIR_ENV = "TEST_PG_BINDIR"
INSTALL_HINT = "run tests/pg/install-debian-packages.sh"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
INITDB_TIMEOUT = 120.0
POLL_INTERVAL = 0.05
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 40
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, keep a margin

DB_NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
BIND_FAILURE_MARKERS = ("could not bind", "could not create any TCP/IP sockets")

StopMode = Literal["smart", "fast", "immediate"]
STOP_SIGNALS: dict[str, signal.Signals] = {
    "smart": signal.SIGTERM,
    "fast": signal.SIGINT,
    "immediate": signal.SIGQUIT,
}


class ClusterError(RuntimeError):
    """The throwaway cluster could not be created, started or stopped."""


@dataclass(frozen=True)
class RunningCluster:
    """A started cluster. ``url`` is a SQLAlchemy URL for the ``postgres`` database."""

    url: str
    port: int
    data_dir: Path
    pid: int
    user: str
    password: str = field(repr=False)
    host: str
    workdir: Path
    socket_dir: Path
    log_file: Path
    bin_dir: Path
    durable: bool
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _Layout:
    workdir: Path
    data_dir: Path
    socket_dir: Path
    log_file: Path
    bin_dir: Path
    run_as: pwd.struct_passwd | None


# --------------------------------------------------------------------------- binaries, users


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    parts = bin_dir.parent.name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (0,)


def _is_server_bin_dir(path: Path) -> bool:
    return all(os.access(path / name, os.X_OK) for name in ("postgres", "initdb"))


def find_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (or ``$TEST_PG_BINDIR``)."""
    override = os.environ.get(BINDIR_ENV)
    if override:
        if not _is_server_bin_dir(Path(override)):
            raise ClusterError(f"${BINDIR_ENV}={override} has no postgres/initdb")
        return Path(override)
    found = [d for d in DEBIAN_PG_ROOT.glob("*/bin") if _is_server_bin_dir(d)]
    if not found:
        raise ClusterError(f"no PostgreSQL server under {DEBIAN_PG_ROOT}/*/bin; {INSTALL_HINT}")
    return max(found, key=_version_key)


def server_os_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ``postgres`` when we are root, else None (us)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError as exc:
        raise ClusterError(
            f"running as root but no {SERVER_OS_USER!r} user; {INSTALL_HINT}"
        ) from exc


def _give_to(path: Path, run_as: pwd.struct_passwd | None) -> None:
    if run_as is not None:
        os.chown(path, run_as.pw_uid, run_as.pw_gid)


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    return env


@dataclass(frozen=True)
class _Identity:
    """Popen ``user``/``group``/``extra_groups``: all None means "as ourselves"."""

    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None


def _identity(run_as: pwd.struct_passwd | None) -> _Identity:
    if run_as is None:
        return _Identity()
    return _Identity(user=run_as.pw_uid, group=run_as.pw_gid, extra_groups=[])


# --------------------------------------------------------------------------- work directory


def new_workdir(parent: Path | None = None, prefix: str = "pgtest-") -> Path:
    """A fresh directory that the server account can use (mkdtemp, system temp by default).

    As root the server runs as ``postgres``, which cannot enter pytest's 0700
    ``/tmp/pytest-of-root``: use this instead of ``tmp_path`` in that case.
    """
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def remove_workdir(workdir: Path) -> None:
    """Delete a work directory (stop its cluster first)."""
    shutil.rmtree(workdir, ignore_errors=True)


def _prepare_layout(workdir: Path) -> _Layout:
    run_as = server_os_user()
    workdir.mkdir(parents=True, exist_ok=True)
    layout = _Layout(
        workdir=workdir,
        data_dir=workdir / "data",
        socket_dir=workdir / "sock",
        log_file=workdir / "server.log",
        bin_dir=find_bin_dir(),
        run_as=run_as,
    )
    if layout.data_dir.exists():
        raise ClusterError(f"{layout.data_dir} already exists; use a fresh work directory")
    if len(str(layout.socket_dir)) + len("/.s.PGSQL.65535.lock") > MAX_SOCKET_PATH:
        raise ClusterError(f"work directory path too long for a unix socket: {workdir}")
    workdir.chmod(0o700)
    layout.socket_dir.mkdir(mode=0o700)
    layout.log_file.touch(mode=0o600)
    for path in (workdir, layout.socket_dir, layout.log_file):
        _give_to(path, run_as)
    return layout


def _write_owned(path: Path, text: str, run_as: pwd.struct_passwd | None) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    _give_to(path, run_as)


# --------------------------------------------------------------------------- logs and errors


def log_tail(log_file: Path, lines: int = LOG_TAIL_LINES, offset: int = 0) -> str:
    """The last ``lines`` lines of the server log (from byte ``offset``)."""
    try:
        with log_file.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError as exc:
        return f"<cannot read {log_file}: {exc}>"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def _error(message: str, log_file: Path, offset: int = 0) -> ClusterError:
    tail = log_tail(log_file, offset=offset) or "<empty>"
    return ClusterError(f"{message}\n--- tail of {log_file} ---\n{tail}\n--- end of log ---")


# --------------------------------------------------------------------------- initdb and config


def _initdb(layout: _Layout, password: str, durable: bool) -> None:
    pwfile = layout.workdir / "pwfile"
    _write_owned(pwfile, password + "\n", layout.run_as)
    cmd = [
        str(layout.bin_dir / "initdb"),
        f"--pgdata={layout.data_dir}",
        f"--username={SUPERUSER}",
        f"--pwfile={pwfile}",
        "--auth-host=scram-sha-256",
        "--auth-local=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        *([] if durable else ["--no-sync"]),
    ]
    try:
        result = _run_initdb(cmd, layout)
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        hint = (
            f" (as {layout.run_as.pw_name}: is {layout.workdir} reachable?)"
            if layout.run_as
            else ""
        )
        raise ClusterError(f"initdb failed with code {result.returncode}{hint}:\n{result.stdout}")


def _run_initdb(cmd: list[str], layout: _Layout) -> subprocess.CompletedProcess[str]:
    who = _identity(layout.run_as)
    try:
        return subprocess.run(
            cmd,
            cwd=layout.workdir,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=INITDB_TIMEOUT,
            check=False,
            user=who.user,
            group=who.group,
            extra_groups=who.extra_groups,
        )
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"initdb did not finish within {INITDB_TIMEOUT}s") from exc


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _settings(
    port: int, socket_dir: Path, durable: bool, extra: Mapping[str, str]
) -> dict[str, str]:
    durability = "on" if durable else "off"
    return {
        "listen_addresses": _quote(HOST),
        "port": str(port),
        "unix_socket_directories": _quote(str(socket_dir)),
        "password_encryption": "'scram-sha-256'",
        "logging_collector": "off",
        "log_destination": "'stderr'",
        "fsync": durability,
        "synchronous_commit": durability,
        "full_page_writes": durability,
        **extra,
    }


def _write_config(layout: _Layout, settings: Mapping[str, str]) -> None:
    """Settings go to ``tests_pg.conf``, included from the end of postgresql.conf."""
    text = "".join(f"{key} = {value}\n" for key, value in settings.items())
    _write_owned(layout.data_dir / "tests_pg.conf", text, layout.run_as)
    main_conf = layout.data_dir / "postgresql.conf"
    include = "include = 'tests_pg.conf'\n"
    if include not in main_conf.read_text(encoding="utf-8"):
        with main_conf.open("a", encoding="utf-8") as fh:
            fh.write("\n# throwaway test cluster (tests/pg/cluster.py)\n" + include)


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1, picked by the kernel (ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------- start


def _launch(layout: _Layout) -> subprocess.Popen[bytes]:
    who = _identity(layout.run_as)
    with layout.log_file.open("ab") as log:
        return subprocess.Popen(
            [str(layout.bin_dir / "postgres"), "-D", str(layout.data_dir)],
            cwd=layout.workdir,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: see _kill_group
            user=who.user,
            group=who.group,
            extra_groups=who.extra_groups,
        )


def _pidfile_status(data_dir: Path) -> tuple[int, str] | None:
    """(pid, status) from postmaster.pid, or None while it is missing/incomplete."""
    try:
        lines = (data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    if len(lines) < 8 or not lines[0].strip().isdigit():
        return None
    return int(lines[0]), lines[7].strip()


def _wait_ready(proc: subprocess.Popen[bytes], layout: _Layout, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            raise ClusterError(f"postgres exited with code {proc.returncode} during startup")
        status = _pidfile_status(layout.data_dir)
        if status == (proc.pid, "ready"):
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"postgres not ready by the startup deadline (pid file: {status})")
        time.sleep(POLL_INTERVAL)


def _start_once(layout: _Layout, deadline: float) -> subprocess.Popen[bytes]:
    offset = layout.log_file.stat().st_size
    proc = _launch(layout)
    try:
        _wait_ready(proc, layout, deadline)
    except ClusterError as exc:
        _kill_group(proc)
        raise _error(str(exc), layout.log_file, offset) from None
    return proc


def _bind_failed(layout: _Layout, offset: int) -> bool:
    tail = log_tail(layout.log_file, lines=LOG_TAIL_LINES, offset=offset)
    return any(marker in tail for marker in BIND_FAILURE_MARKERS)


def _start_on_free_port(
    layout: _Layout, durable: bool, extra: Mapping[str, str], deadline: float
) -> tuple[subprocess.Popen[bytes], int]:
    """Pick a port, start; retry with a new port if another process grabbed it meanwhile."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        _write_config(layout, _settings(port, layout.socket_dir, durable, extra))
        offset = layout.log_file.stat().st_size
        try:
            return _start_once(layout, deadline), port
        except ClusterError:
            if attempt == PORT_ATTEMPTS or not _bind_failed(layout, offset):
                raise
    raise AssertionError("unreachable")


def _cluster_url(port: int, password: str, dbname: str) -> str:
    url = URL.create(
        "postgresql+psycopg",
        username=SUPERUSER,
        password=password,
        host=HOST,
        port=port,
        database=dbname,
    )
    return url.render_as_string(hide_password=False)


def _build(
    layout: _Layout, proc: subprocess.Popen[bytes], port: int, password: str, durable: bool
) -> RunningCluster:
    return RunningCluster(
        url=_cluster_url(port, password, ADMIN_DB),
        port=port,
        data_dir=layout.data_dir,
        pid=proc.pid,
        user=SUPERUSER,
        password=password,
        host=HOST,
        workdir=layout.workdir,
        socket_dir=layout.socket_dir,
        log_file=layout.log_file,
        bin_dir=layout.bin_dir,
        durable=durable,
        process=proc,
    )


def _check_login(cluster: RunningCluster) -> None:
    try:
        with admin_connect(cluster) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        stop_cluster(cluster, mode="immediate")
        raise _error(f"server is up but login failed: {exc}", cluster.log_file) from None


def start_cluster(
    workdir: Path,
    *,
    durable: bool = False,
    extra_settings: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> RunningCluster:
    """initdb a new cluster in ``workdir/data`` and start it; returns once it accepts logins.

    ``durable=False`` turns fsync, synchronous_commit and full_page_writes off
    (fast); ``durable=True`` keeps them on, for crash-safety tests.
    ``extra_settings`` are raw postgresql.conf values (quote strings yourself).
    ``workdir`` must be reachable by the server account (see ``new_workdir``).
    Raises ``ClusterError`` (with the server log tail) on failure or timeout.
    """
    layout = _prepare_layout(workdir)
    password = secrets.token_urlsafe(24)
    _initdb(layout, password, durable)
    deadline = time.monotonic() + timeout
    proc, port = _start_on_free_port(layout, durable, extra_settings or {}, deadline)
    cluster = _build(layout, proc, port, password, durable)
    _check_login(cluster)
    return cluster


def restart_cluster(cluster: RunningCluster, timeout: float = START_TIMEOUT) -> RunningCluster:
    """Start a stopped (or crashed: ``stop_cluster(mode="immediate")``) cluster again.

    Same data directory, port and password; runs crash recovery if needed.
    """
    layout = _Layout(
        workdir=cluster.workdir,
        data_dir=cluster.data_dir,
        socket_dir=cluster.socket_dir,
        log_file=cluster.log_file,
        bin_dir=cluster.bin_dir,
        run_as=server_os_user(),
    )
    proc = _start_once(layout, time.monotonic() + timeout)
    restarted = dataclasses.replace(cluster, pid=proc.pid, process=proc)
    _check_login(restarted)
    return restarted


# --------------------------------------------------------------------------- stop


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Last resort: SIGKILL the server's whole process group (postmaster + backends)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _stop_process(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> bool:
    """Signal the postmaster and wait; False if it outlived ``timeout``."""
    proc.send_signal(sig)  # no-op if it already exited
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _serves(pid: int, data_dir: Path) -> bool:
    """Is ``pid`` a postmaster of ``data_dir``? (postgres chdirs into its data dir)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == data_dir.resolve()
    except OSError:
        return False


def _postmaster_of(data_dir: Path) -> int | None:
    """The live postmaster pid from ``data_dir/postmaster.pid`` (None if stale or absent)."""
    status = _pidfile_status(data_dir)
    if status is None or not _serves(status[0], data_dir):
        return None
    return status[0]


def _stop_pid(pid: int, sig: signal.Signals, timeout: float) -> bool:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
    return not _pid_alive(pid)


def stop_data_dir(
    data_dir: Path, *, mode: StopMode = "fast", timeout: float = STOP_TIMEOUT
) -> None:
    """Stop whatever postmaster serves ``data_dir`` per its postmaster.pid (no-op if none).

    For servers this process did not start; checks the pid really is that
    data dir's postmaster (so a stale pid file never signals a reused pid).
    """
    pid = _postmaster_of(data_dir)
    if pid is None:
        return
    stopped = _stop_pid(pid, STOP_SIGNALS[mode], timeout) or _stop_pid(pid, signal.SIGQUIT, timeout)
    if not stopped:
        raise ClusterError(f"postmaster {pid} of {data_dir} did not stop")


def stop_cluster(
    cluster: RunningCluster, *, mode: StopMode = "fast", timeout: float = STOP_TIMEOUT
) -> None:
    """Stop the cluster by signalling its postmaster pid (never by process name).

    ``fast`` (SIGINT) rolls back sessions and checkpoints; ``immediate``
    (SIGQUIT) skips the checkpoint, like a crash, so the next start recovers.
    Idempotent. Escalates to SIGQUIT, then SIGKILL of its process group.
    """
    sig = STOP_SIGNALS[mode]
    proc = cluster.process
    if proc is None:
        if _postmaster_of(cluster.data_dir) == cluster.pid:
            stop_data_dir(cluster.data_dir, mode=mode, timeout=timeout)
        return
    if _stop_process(proc, sig, timeout):
        return
    if not _stop_process(proc, signal.SIGQUIT, timeout):
        _kill_group(proc)


# --------------------------------------------------------------------------- databases


def admin_connect(cluster: RunningCluster, dbname: str = ADMIN_DB) -> psycopg.Connection[TupleRow]:
    """An autocommit superuser connection over TCP (password auth)."""
    return psycopg.connect(
        host=cluster.host,
        port=cluster.port,
        user=cluster.user,
        password=cluster.password,
        dbname=dbname,
        autocommit=True,
        connect_timeout=10,
    )


def _check_db_name(name: str) -> None:
    if not DB_NAME_RE.fullmatch(name):
        raise ValueError(f"database name must match {DB_NAME_RE.pattern}: {name!r}")


def database_url(cluster: RunningCluster, name: str) -> str:
    """SQLAlchemy URL (postgresql+psycopg) of database ``name`` on ``cluster``."""
    return _cluster_url(cluster.port, cluster.password, name)


def create_database(cluster: RunningCluster, name: str) -> str:
    """Create an empty database (from template0, owned by the superuser); return its URL."""
    _check_db_name(name)
    query = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    with admin_connect(cluster) as conn:
        conn.execute(query)
    return database_url(cluster, name)


def drop_database(cluster: RunningCluster, name: str) -> None:
    """Drop a database if it exists, terminating any sessions still connected to it."""
    _check_db_name(name)
    query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with admin_connect(cluster) as conn:
        conn.execute(query)


@contextlib.contextmanager
def running_cluster(
    workdir: Path, *, durable: bool = False, extra_settings: Mapping[str, str] | None = None
) -> Iterator[RunningCluster]:
    """``with running_cluster(dir) as c:`` start_cluster + stop_cluster."""
    cluster = start_cluster(workdir, durable=durable, extra_settings=extra_settings)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
