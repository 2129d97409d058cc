"""Smoke tests for the throwaway PostgreSQL cluster fixture (tests/pg)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.pg.cluster import (
    HOST,
    ClusterError,
    RunningCluster,
    admin_connect,
    create_database,
    drop_database,
    start_cluster,
    stop_cluster,
)
from tests.pg.plugin import ClusterFactory

pytestmark = pytest.mark.postgres

TCP_LISTEN = "0A"
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp prints it (little-endian)


def _scalar(url: str, query: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


def _listeners(port: int) -> list[tuple[str, str]]:
    """(table, local address hex) of every listening TCP socket on ``port``."""
    found = []
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == TCP_LISTEN:
                found.append((table, address))
    return found


def _connect_errno(host: str, port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port))


def test_sqlalchemy_psycopg_roundtrip(pg_url: str) -> None:
    assert make_url(pg_url).drivername == "postgresql+psycopg"
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE profile (id serial PRIMARY KEY, name text NOT NULL)"))
            conn.execute(text("INSERT INTO profile (name) VALUES ('relay'), ('backup')"))
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM profile ORDER BY id")).scalars().all()
    finally:
        engine.dispose()
    assert names == ["relay", "backup"]


def test_pg_url_is_a_fresh_empty_database(pg_url: str, pg_cluster: RunningCluster) -> None:
    url = make_url(pg_url)
    assert (url.host, url.port) == (HOST, pg_cluster.port)
    assert url.database not in (None, "postgres", "template0", "template1")
    assert _scalar(pg_url, "SELECT current_database()") == url.database
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_databases_are_isolated(pg_cluster: RunningCluster) -> None:
    url_a = create_database(pg_cluster, "iso_a")
    url_b = create_database(pg_cluster, "iso_b")
    try:
        engine_a, engine_b = create_engine(url_a), create_engine(url_b)
        with engine_a.begin() as conn:
            conn.execute(text("CREATE TABLE only_in_a (x int)"))
        assert inspect(engine_a).has_table("only_in_a")
        assert not inspect(engine_b).has_table("only_in_a")
        engine_a.dispose()
        engine_b.dispose()
    finally:
        drop_database(pg_cluster, "iso_a")
        drop_database(pg_cluster, "iso_b")


def test_listens_on_127_0_0_1_only(pg_cluster: RunningCluster) -> None:
    assert _scalar(pg_cluster.url, "SHOW listen_addresses") == "127.0.0.1"
    assert _listeners(pg_cluster.port) == [("tcp", LOOPBACK_HEX)]
    assert _connect_errno("127.0.0.1", pg_cluster.port) == 0
    assert _connect_errno("127.0.0.2", pg_cluster.port) == errno.ECONNREFUSED


def test_unix_socket_lives_in_the_workdir(pg_cluster: RunningCluster) -> None:
    assert (pg_cluster.socket_dir / f".s.PGSQL.{pg_cluster.port}").is_socket()
    assert pg_cluster.socket_dir.is_relative_to(pg_cluster.workdir)
    assert pg_cluster.data_dir.is_relative_to(pg_cluster.workdir)


def test_password_is_required(pg_cluster: RunningCluster) -> None:
    assert _scalar(pg_cluster.url, "SHOW password_encryption") == "scram-sha-256"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=HOST,
            port=pg_cluster.port,
            user=pg_cluster.user,
            password="wrong",
            dbname="postgres",
            connect_timeout=5,
        ).close()


def test_server_is_not_root_and_pid_is_the_postmaster(pg_cluster: RunningCluster) -> None:
    assert os.stat(f"/proc/{pg_cluster.pid}").st_uid != 0
    pidfile = (pg_cluster.data_dir / "postmaster.pid").read_text().splitlines()
    assert int(pidfile[0]) == pg_cluster.pid
    with admin_connect(pg_cluster) as conn:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    assert row == (str(pg_cluster.data_dir),)


def test_session_cluster_is_not_durable(pg_cluster: RunningCluster) -> None:
    assert not pg_cluster.durable
    for name in ("fsync", "synchronous_commit", "full_page_writes"):
        assert _scalar(pg_cluster.url, f"SHOW {name}") == "off"


def test_durable_cluster_survives_a_crash(pg_cluster_factory: ClusterFactory) -> None:
    cluster = pg_cluster_factory(durable=True)
    for name in ("fsync", "synchronous_commit", "full_page_writes"):
        assert _scalar(cluster.url, f"SHOW {name}") == "on"
    url = create_database(cluster, "crash")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x int)"))
        conn.execute(text("INSERT INTO t VALUES (42)"))
    engine.dispose()
    stop_cluster(cluster, mode="immediate")  # no shutdown checkpoint: like a crash
    restarted = pg_cluster_factory.restart(cluster)
    assert restarted.port == cluster.port and restarted.pid != cluster.pid
    assert _scalar(url, "SELECT x FROM t") == 42
    assert "database system was interrupted" in restarted.log_file.read_text()


def test_stop_releases_pid_and_port(pg_cluster_factory: ClusterFactory) -> None:
    cluster = pg_cluster_factory()
    stop_cluster(cluster)
    assert not Path(f"/proc/{cluster.pid}").exists()
    assert not (cluster.data_dir / "postmaster.pid").exists()
    assert _connect_errno(HOST, cluster.port) == errno.ECONNREFUSED
    stop_cluster(cluster)  # idempotent


def test_startup_failure_reports_the_log_tail(pg_workdir: Path) -> None:
    with pytest.raises(ClusterError) as info:
        start_cluster(pg_workdir, extra_settings={"shared_buffers": "'lots'"})
    message = str(info.value)
    assert "exited with code" in message
    assert "shared_buffers" in message
    assert f"tail of {pg_workdir / 'server.log'}" in message
