"""Engine creation, write transactions and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from smtp_profile.errors import ConfigurationError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works: it names the lock that serialises migrations on PostgreSQL.
_MIGRATION_LOCK_ID = 0x5_3_4D_5450


class Database:
    """One engine plus the two ways the service uses it: read and write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self._writers: AbstractContextManager[object] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that holds the write lock from its first statement.

        On SQLite, writers of this process also queue on a lock of their own, so
        they wait their turn instead of spinning in SQLite's busy-retry sleeps.
        """
        with self._writers, self.engine.connect() as connection:
            connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with connection.begin():
                yield connection

    def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when instances start at once."""
        try:
            with self.engine.connect() as connection:
                if self.is_sqlite:
                    _migrate_sqlite(self.url, connection)
                else:
                    _migrate_locked(connection)
        except SQLAlchemyError as exc:
            raise ConfigurationError(
                f"Cannot prepare the database ({self.engine.url.render_as_string()}): "
                f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            ) from None

    def check(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is switched off: we issue BEGIN ourselves.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a killed process loses no committed transaction; only a power
    # loss may drop the newest ones (use PostgreSQL where that matters).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Emit BEGIN ourselves (pysqlite's implicit one is off); writers take IMMEDIATE."""
    connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _migrate_sqlite(url: str, connection: Connection) -> None:
    database_path = url.split("///", 1)[-1]
    lock_path = Path(database_path + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        command.upgrade(_alembic_config(connection), "head")
        connection.commit()


def _migrate_locked(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    try:
        command.upgrade(_alembic_config(connection), "head")
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
        connection.commit()
