"""Knowing cheaply whether another process changed the profile.

Reads are served from memory; these probes tell when that copy is stale:
SQLite's ``PRAGMA data_version`` changes when another connection commits, and
on PostgreSQL writers ``NOTIFY`` a channel that a listener thread watches. If
the listener loses its connection, every read goes to the database until it
is back, so a stale copy is never served silently.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Protocol

import psycopg
from sqlalchemy import Connection, Engine, text

CHANNEL = "smtp_profile_changed"
log = logging.getLogger(__name__)


class ChangeProbe(Protocol):
    def changed(self) -> bool:
        """True when the stored profile may differ from the last read."""

    def close(self) -> None: ...


def announce_change(connection: Connection) -> None:
    """Tell other instances, at commit, that the profile changed (PostgreSQL only)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"NOTIFY {CHANNEL}"))


class SqliteDataVersion:
    def __init__(self, database_path: str) -> None:
        self._connection = sqlite3.connect(database_path, check_same_thread=False)
        self._lock = threading.Lock()
        self._seen = self._read()

    def _read(self) -> int:
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        with self._lock:
            version = self._read()
            if version == self._seen:
                return False
            self._seen = version
            return True

    def close(self) -> None:
        self._connection.close()


class PostgresListener:
    """A daemon thread that LISTENs and flags every notification."""

    def __init__(self, conninfo: str, *, poll_seconds: float = 1.0) -> None:
        self._conninfo = conninfo
        self._poll = poll_seconds
        self._flag = threading.Event()
        self._healthy = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="profile-listener", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5)

    def changed(self) -> bool:
        if not self._healthy.is_set():
            return True
        if self._flag.is_set():
            self._flag.clear()
            return True
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._poll + 2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._healthy.set()
                    self._flag.set()  # anything may have changed while we were away
                    self._ready.set()
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=self._poll):
                            self._flag.set()
            except psycopg.Error as exc:
                self._healthy.clear()
                self._ready.set()
                log.warning(
                    "profile change listener lost its connection",
                    extra={"error": type(exc).__name__},
                )
                self._stop.wait(self._poll)
        self._healthy.clear()


def probe_for(engine: Engine) -> ChangeProbe:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return SqliteDataVersion(url.database or ":memory:")
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return PostgresListener(conninfo)
