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
    Text,
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
    # API version 2 (migration 0003): secret references (JSON, not secret), OAuth 2.0.
    Column("relay_username_ref", Text, nullable=True),
    Column("relay_password_ref", Text, nullable=True),
    Column("client_id", String(256), nullable=True),
    Column("client_id_ref", Text, nullable=True),
    Column("client_secret", LargeBinary, nullable=True),  # encrypted like relay_password
    Column("client_secret_ref", Text, nullable=True),
    Column("token_endpoint", String(2048), nullable=True),
    Column("oauth_scope", String(1024), nullable=True),
    Column("oauth_audience", String(1024), nullable=True),
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

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_name", String(256), nullable=True),
    Column("client", String(64), nullable=True),
    Column("operation", String(32), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("changes", Text, nullable=False),
    Column("detail", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)
