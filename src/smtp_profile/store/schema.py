"""Table definitions (SQLAlchemy Core). Alembic migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

profile = Table(
    "profile",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("host", String(253), nullable=True),
    Column("port", Integer, nullable=False),
    Column("relay_auth_type", Integer, nullable=False),
    Column("relay_username", String(256), nullable=True),
    Column("relay_password", LargeBinary, nullable=True),
    Column("sender_account", String(320), nullable=True),
    Column("sender_name", String(255), nullable=True),
    Column("use_ssl", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(256), nullable=True),
)

api_user = Table(
    "api_user",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("name_folded", String(256), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
