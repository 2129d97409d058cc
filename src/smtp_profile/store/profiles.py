"""Reading and writing the single profile row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from smtp_profile.profile import DEFAULT_SETTINGS, PROFILE_ID, AuthType, ProfileSettings
from smtp_profile.store.schema import profile


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """The row as stored: settings, the encrypted password, and a revision number."""

    settings: ProfileSettings
    password_token: bytes | None
    revision: int
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def has_password(self) -> bool:
        return self.password_token is not None


EMPTY_PROFILE = StoredProfile(settings=DEFAULT_SETTINGS, password_token=None, revision=0)


def load_profile(connection: Connection, *, for_update: bool = False) -> StoredProfile:
    query = select(profile).where(profile.c.id == PROFILE_ID)
    if for_update and connection.dialect.name != "sqlite":
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    if row is None:
        return EMPTY_PROFILE
    settings = ProfileSettings(
        host=row["host"],
        port=row["port"],
        auth_type=AuthType(row["relay_auth_type"]),
        username=row["relay_username"],
        sender_account=row["sender_account"],
        sender_name=row["sender_name"],
        use_ssl=row["use_ssl"],
    )
    return StoredProfile(
        settings=settings,
        password_token=row["relay_password"],
        revision=row["revision"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


def save_profile(
    connection: Connection,
    *,
    previous: StoredProfile,
    settings: ProfileSettings,
    password_token: bytes | None,
    actor: str,
) -> StoredProfile:
    """Write the whole row (full replacement) and bump the revision."""
    values = {
        "host": settings.host,
        "port": settings.port,
        "relay_auth_type": int(settings.auth_type),
        "relay_username": settings.username,
        "relay_password": password_token,
        "sender_account": settings.sender_account,
        "sender_name": settings.sender_name,
        "use_ssl": settings.use_ssl,
        "revision": previous.revision + 1,
        "updated_at": datetime.now(UTC),
        "updated_by": actor,
    }
    if previous.revision == 0:
        connection.execute(insert(profile).values(id=PROFILE_ID, **values))
    else:
        connection.execute(update(profile).where(profile.c.id == PROFILE_ID).values(**values))
    return StoredProfile(
        settings=settings,
        password_token=password_token,
        revision=previous.revision + 1,
        updated_at=values["updated_at"],  # type: ignore[arg-type]
        updated_by=actor,
    )


def load_revision(connection: Connection) -> int:
    """The current revision alone: a cheap way to know whether a cache is stale."""
    revision = connection.execute(
        select(profile.c.revision).where(profile.c.id == PROFILE_ID)
    ).scalar_one_or_none()
    return int(revision or 0)


def replace_password_token(connection: Connection, token: bytes) -> None:
    """Swap the ciphertext only (key rotation): same password, same revision."""
    connection.execute(
        update(profile).where(profile.c.id == PROFILE_ID).values(relay_password=token)
    )
