"""Migration 0003 (secret references, OAuth) on SQLite and PostgreSQL: a version 1
profile survives the upgrade untouched, and the downgrade leaves a usable version 1 row."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from smtp_profile.secret_plan import StoredSecrets
from smtp_profile.store.database import Database, _alembic_config
from smtp_profile.store.profiles import load_profile

NEW_COLUMNS = {
    "relay_username_ref",
    "relay_password_ref",
    "client_id",
    "client_id_ref",
    "client_secret",
    "client_secret_ref",
    "token_endpoint",
    "oauth_scope",
    "oauth_audience",
}


def _migrate(database: Database, revision: str, *, down: bool = False) -> None:
    with database.engine.connect() as connection:
        step = command.downgrade if down else command.upgrade
        step(_alembic_config(connection), revision)
        connection.commit()


def _columns(database: Database) -> set[str]:
    return {column["name"] for column in inspect(database.engine).get_columns("profile")}


def _check(url: str) -> None:
    database = Database(url)
    try:
        _migrate(database, "0002")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO profile (id, host, port, relay_auth_type, relay_username, "
                    "relay_password, sender_account, sender_name, use_ssl, revision, updated_at) "
                    "VALUES (1, 'smtp.example.test', 587, 2, 'svc', :token, 'a@example.test', "
                    "'A', true, 4, CURRENT_TIMESTAMP)"
                ),
                {"token": b"ciphertext"},
            )
        assert not NEW_COLUMNS & _columns(database)
        _migrate(database, "head")
        assert _columns(database) >= NEW_COLUMNS
        with database.read() as connection:
            stored = load_profile(connection)
        assert stored.settings.username == "svc" and stored.password_token == b"ciphertext"
        assert stored.revision == 4 and stored.secrets == StoredSecrets(
            stored.settings, has_password=True
        )
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE profile SET relay_auth_type = 3, client_id = 'app', "
                    "client_secret = :token, token_endpoint = 'https://login.example.test/t'"
                ),
                {"token": b"other-ciphertext"},
            )
        _migrate(database, "0002", down=True)
        assert not NEW_COLUMNS & _columns(database)
        with database.engine.connect() as connection:
            row = connection.execute(
                text("SELECT relay_auth_type, relay_username, relay_password FROM profile")
            ).one()
        assert tuple(row) == (0, None, None)  # version 1 knows no OAuth: anonymous
    finally:
        database.dispose()


def test_migration_0003_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migration_0003_on_postgres(pg_url: str) -> None:
    _check(pg_url)
