"""Alembic environment: always run programmatically with a live connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from smtp_profile.store.schema import metadata


def run_migrations_online() -> None:
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
