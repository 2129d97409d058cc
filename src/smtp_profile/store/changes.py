"""Knowing cheaply whether another process changed the profile.

Reads are served from memory; these probes tell when that copy is stale:
SQLite's ``PRAGMA data_version`` changes when another connection commits, and
on PostgreSQL a one-row query of the revision decides whether the full row
must be read again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Protocol

import psycopg
from sqlalchemy import Engine

log = logging.getLogger(__name__)


class ChangeProbe(Protocol):
    blocking: bool  # True when a check talks to another process (keep it off the event loop)

    def changed(self) -> bool:
        """True when the stored profile may differ from the last read."""

    def close(self) -> None: ...


SQLITE_CHECK_INTERVAL = 0.1  # seconds: how stale another process's write may look


class SqliteDataVersion:
    """``PRAGMA data_version`` tells whether another connection committed.

    Writes by this process update the served copy at once; a write by another
    process on the same file (a CLI ``import``, a second instance) is seen within
    :data:`SQLITE_CHECK_INTERVAL`: the check runs at most that often, so a busy
    GET path pays a clock read, not a system call or a query.
    """

    blocking = False

    def __init__(self, database_path: str, *, interval: float = SQLITE_CHECK_INTERVAL) -> None:
        self._connection = sqlite3.connect(database_path, check_same_thread=False)
        self._lock = threading.Lock()
        self._interval = interval
        self._next_check = time.monotonic() + interval
        self._seen = self._read()

    def _read(self) -> int:
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        now = time.monotonic()
        if now < self._next_check:
            return False
        with self._lock:
            self._next_check = now + self._interval
            version = self._read()
            if version == self._seen:
                return False
            self._seen = version
            return True

    def close(self) -> None:
        self._connection.close()


class PostgresRevision:
    """Asks PostgreSQL for the profile's revision: one tiny indexed query.

    Blocking (run it off the event loop). A notification would arrive a moment
    after the writer's commit, so only a query guarantees that a GET through
    one instance returns what a PUT through another just stored.
    """

    blocking = True

    def __init__(self, conninfo: str, *, timeout_seconds: int = 2) -> None:
        self._conninfo = conninfo
        self._timeout = timeout_seconds
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[tuple[int]] | None = None
        self._seen: int | None = None

    def changed(self) -> bool:
        with self._lock:
            try:
                revision = self._query()
            except psycopg.Error:
                self._reset()
                return True
            if revision == self._seen:
                return False
            self._seen = revision
            return True

    def _query(self) -> int | None:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._timeout,
                options=f"-c statement_timeout={self._timeout * 1000}",
            )
        row = self._connection.execute("SELECT revision FROM profile WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def _reset(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def close(self) -> None:
        with self._lock:
            self._reset()


def probe_for(engine: Engine) -> ChangeProbe:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return SqliteDataVersion(url.database or ":memory:")
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return PostgresRevision(conninfo)
