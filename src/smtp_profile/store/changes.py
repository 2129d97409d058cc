"""Knowing cheaply whether another process changed the profile.

Reads are served from memory; these probes tell when that copy is stale:
SQLite's ``PRAGMA data_version`` changes when another connection commits, and
on PostgreSQL a one-row query of the revision decides whether the full row
must be read again.
"""

from __future__ import annotations

import logging
import os
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


_MTIME_GRANULARITY_NS = 50_000_000


class SqliteDataVersion:
    """``PRAGMA data_version`` tells whether another connection committed.

    A ``stat`` of the WAL file comes first: no commit can happen without writing
    it, and one ``stat`` is far cheaper than a query.
    File times are coarse (a kernel tick), so for a moment after the last write the
    query runs anyway.
    """

    blocking = False

    def __init__(self, database_path: str) -> None:
        # In WAL mode every commit writes the -wal file (a checkpoint then only copies
        # committed pages), and this probe's open connection keeps that file in place.
        self._wal = database_path + "-wal"
        self._connection = sqlite3.connect(database_path, check_same_thread=False)
        self._lock = threading.Lock()
        self._signature = self._stat()
        self._seen = self._read()

    def _stat(self) -> tuple[int, int]:
        """(modification time in ns, size) of the WAL file; (0, 0) when there is none."""
        try:
            info = os.stat(self._wal)
        except FileNotFoundError:
            return (0, 0)
        return (info.st_mtime_ns, info.st_size)

    def _read(self) -> int:
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        signature = self._stat()
        if signature == self._signature and time.time_ns() - signature[0] > _MTIME_GRANULARITY_NS:
            return False  # untouched since well before the file clock's granularity
        with self._lock:
            self._signature = signature
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
