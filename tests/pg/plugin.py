"""pytest plugin: a throwaway PostgreSQL cluster per session, a fresh database per test.

Load with ``pytest_plugins = ["tests.pg.plugin"]`` (top-level conftest) or
``-p tests.pg.plugin``. Fixtures:

* ``pg_cluster`` (session): the running cluster; failing to start it FAILS the
  tests that use it (never skips).
* ``pg_url`` (function): SQLAlchemy URL of a new, empty database, dropped after
  the test.
* ``pg_workdir`` (function): a fresh directory ``start_cluster`` can use.
* ``pg_cluster_factory`` (function): start extra clusters (e.g. ``durable=True``
  for crash-safety tests); all are stopped after the test.
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.pg.cluster import (
    ClusterError,
    RunningCluster,
    create_database,
    drop_database,
    new_workdir,
    remove_workdir,
    restart_cluster,
    server_os_user,
    start_cluster,
    stop_cluster,
    stop_data_dir,
)

_DB_COUNTER = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs a throwaway PostgreSQL cluster")


def _workdir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """tmp_path_factory when the server runs as us; else a /tmp dir ``postgres`` can enter.

    As root the server runs as ``postgres``, which cannot traverse pytest's
    0700 ``/tmp/pytest-of-root``.
    """
    if server_os_user() is None:
        return tmp_path_factory.mktemp(name)
    return new_workdir(prefix=f"pytest-{name}-")


def _is_pytest_tmp(path: Path, tmp_path_factory: pytest.TempPathFactory) -> bool:
    return path.is_relative_to(tmp_path_factory.getbasetemp())


def _dispose_workdir(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Remove the data; keep server.log under pytest's basetemp for post-mortems."""
    if _is_pytest_tmp(workdir, tmp_path_factory):
        shutil.rmtree(workdir / "data", ignore_errors=True)
        return
    log = workdir / "server.log"
    if log.exists():
        shutil.copy2(log, tmp_path_factory.mktemp("pglog") / "server.log")
    remove_workdir(workdir)


def _start_or_fail(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> RunningCluster:
    error: ClusterError | None = None
    try:
        return start_cluster(workdir)
    except ClusterError as exc:
        error = exc
    _dispose_workdir(workdir, tmp_path_factory)
    pytest.fail(f"cannot start the throwaway PostgreSQL cluster:\n{error}", pytrace=False)


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    """The session's throwaway cluster (fsync off). Fails, never skips, if it cannot start."""
    workdir = _workdir(tmp_path_factory, "pg")
    cluster = _start_or_fail(workdir, tmp_path_factory)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        _dispose_workdir(workdir, tmp_path_factory)


def _database_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", node_name.lower()).strip("_")
    return f"t{next(_DB_COUNTER):04d}_{slug}"[:63].rstrip("_")


@pytest.fixture
def pg_url(pg_cluster: RunningCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL (postgresql+psycopg) of a fresh empty database for this test."""
    name = _database_name(request.node.name)
    url = create_database(pg_cluster, name)
    yield url
    drop_database(pg_cluster, name)


@pytest.fixture
def pg_workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh directory usable by ``start_cluster`` (stop your clusters before it goes)."""
    workdir = _workdir(tmp_path_factory, "pgw")
    yield workdir
    _dispose_workdir(workdir, tmp_path_factory)


class ClusterFactory:
    """Starts extra clusters for one test; ``close()`` stops them all."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._latest: dict[Path, RunningCluster] = {}  # workdir -> newest handle
        self._workdirs: list[Path] = []

    def __call__(
        self, *, durable: bool = False, extra_settings: Mapping[str, str] | None = None
    ) -> RunningCluster:
        workdir = _workdir(self._tmp, "pgf")
        self._workdirs.append(workdir)
        cluster = start_cluster(workdir, durable=durable, extra_settings=extra_settings)
        self._latest[workdir] = cluster
        return cluster

    def restart(self, cluster: RunningCluster) -> RunningCluster:
        """``restart_cluster`` that the factory keeps track of (for cleanup)."""
        restarted = restart_cluster(cluster)
        self._latest[cluster.workdir] = restarted
        return restarted

    def close(self) -> None:
        for cluster in self._latest.values():
            stop_cluster(cluster)
            stop_data_dir(cluster.data_dir)  # one the test restarted on its own
        for workdir in self._workdirs:
            _dispose_workdir(workdir, self._tmp)


@pytest.fixture
def pg_cluster_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterFactory]:
    """Call it (``durable=True``, ``extra_settings=...``) to start more clusters."""
    factory = ClusterFactory(tmp_path_factory)
    yield factory
    factory.close()
