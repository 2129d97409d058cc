"""Reading and writing the single profile row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, text, update

from smtp_profile.profile_model import DEFAULT_SETTINGS, PROFILE_ID, AuthType, ProfileSettings
from smtp_profile.secret_plan import StoredSecrets
from smtp_profile.secretref import SecretRef
from smtp_profile.store.schema import profile

# The encrypted columns: every secret value the service stores.
SECRET_COLUMNS = ("relay_password", "client_secret")


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """The row as stored: settings, the encrypted secrets, and a revision number."""

    settings: ProfileSettings
    password_token: bytes | None
    revision: int
    updated_at: datetime | None = None
    updated_by: str | None = None
    client_secret_token: bytes | None = None

    @property
    def has_password(self) -> bool:
        return self.password_token is not None

    @property
    def has_client_secret(self) -> bool:
        return self.client_secret_token is not None

    @property
    def secrets(self) -> StoredSecrets:
        return StoredSecrets(
            self.settings,
            has_password=self.has_password,
            has_client_secret=self.has_client_secret,
        )

    def tokens(self) -> list[bytes]:
        return [t for t in (self.password_token, self.client_secret_token) if t is not None]


_WRITE_LOCK_ID = 0x50524F46  # names the lock that serialises profile writers

EMPTY_PROFILE = StoredProfile(settings=DEFAULT_SETTINGS, password_token=None, revision=0)


def load_profile(connection: Connection, *, for_update: bool = False) -> StoredProfile:
    query = select(profile).where(profile.c.id == PROFILE_ID)
    if for_update and connection.dialect.name != "sqlite":
        # Before the first PUT there is no row to lock: a transaction-scoped advisory
        # lock serialises writers then too (SQLite's BEGIN IMMEDIATE already does).
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _WRITE_LOCK_ID})
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    if row is None:
        return EMPTY_PROFILE
    return StoredProfile(
        settings=_settings(row),
        password_token=row["relay_password"],
        revision=row["revision"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
        client_secret_token=row["client_secret"],
    )


def _settings(row: RowMapping) -> ProfileSettings:
    return ProfileSettings(
        host=row["host"],
        port=row["port"],
        auth_type=AuthType(row["relay_auth_type"]),
        username=row["relay_username"],
        sender_account=row["sender_account"],
        sender_name=row["sender_name"],
        use_ssl=row["use_ssl"],
        username_ref=SecretRef.loads(row["relay_username_ref"]),
        password_ref=SecretRef.loads(row["relay_password_ref"]),
        client_id=row["client_id"],
        client_id_ref=SecretRef.loads(row["client_id_ref"]),
        client_secret_ref=SecretRef.loads(row["client_secret_ref"]),
        token_endpoint=row["token_endpoint"],
        scope=row["oauth_scope"],
        audience=row["oauth_audience"],
    )


def _dumps(ref: SecretRef | None) -> str | None:
    return ref.dumps() if ref is not None else None


def save_profile(
    connection: Connection,
    *,
    previous: StoredProfile,
    settings: ProfileSettings,
    password_token: bytes | None,
    actor: str,
    client_secret_token: bytes | None = None,
) -> StoredProfile:
    """Write the whole row (full replacement) and bump the revision."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "relay_auth_type": int(settings.auth_type),
        "relay_username": settings.username,
        "relay_password": password_token,
        "sender_account": settings.sender_account,
        "sender_name": settings.sender_name,
        "use_ssl": settings.use_ssl,
        "revision": previous.revision + 1,
        "updated_at": now,
        "updated_by": actor,
        "relay_username_ref": _dumps(settings.username_ref),
        "relay_password_ref": _dumps(settings.password_ref),
        "client_id": settings.client_id,
        "client_id_ref": _dumps(settings.client_id_ref),
        "client_secret": client_secret_token,
        "client_secret_ref": _dumps(settings.client_secret_ref),
        "token_endpoint": settings.token_endpoint,
        "oauth_scope": settings.scope,
        "oauth_audience": settings.audience,
    }
    if previous.revision == 0:
        connection.execute(insert(profile).values(id=PROFILE_ID, **values))
    else:
        connection.execute(update(profile).where(profile.c.id == PROFILE_ID).values(**values))
    return StoredProfile(
        settings=settings,
        password_token=password_token,
        revision=previous.revision + 1,
        updated_at=now,
        updated_by=actor,
        client_secret_token=client_secret_token,
    )


def load_revision(connection: Connection) -> int:
    """The current revision alone: a cheap way to know whether a cache is stale."""
    revision = connection.execute(
        select(profile.c.revision).where(profile.c.id == PROFILE_ID)
    ).scalar_one_or_none()
    return int(revision or 0)


def replace_password_token(connection: Connection, token: bytes) -> None:
    """Swap the ciphertext only (key rotation): same password, same revision."""
    replace_secret_token(connection, "relay_password", token)


def replace_secret_token(connection: Connection, column: str, token: bytes) -> None:
    """Swap one encrypted column's ciphertext (key rotation); the revision stays."""
    assert column in SECRET_COLUMNS
    connection.execute(update(profile).where(profile.c.id == PROFILE_ID).values({column: token}))
