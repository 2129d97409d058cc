"""Wiring: from settings to a ready database, key, authenticator and service.

Both ``serve`` and the CLI commands start here, so they prepare the database
(migrations) and the key file the same way.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from smtp_profile.accounts import Authenticator, Role, hash_password
from smtp_profile.audit_trail import AUDIT_KEY_NAME, AuditTrail, load_audit_key
from smtp_profile.crypto import SecretBox, load_or_create_keys, read_keys
from smtp_profile.errors import ConfigurationError
from smtp_profile.mail.sender import Resolver, system_resolver
from smtp_profile.service import ProfileService
from smtp_profile.settings import Settings
from smtp_profile.store.changes import ChangeProbe, probe_for
from smtp_profile.store.database import Database
from smtp_profile.store.meta import read_value
from smtp_profile.store.profiles import load_profile
from smtp_profile.store.users import UserExists, count_users, insert_user


@dataclass
class Runtime:
    settings: Settings
    database: Database
    box: SecretBox
    authenticator: Authenticator
    service: ProfileService
    trail: AuditTrail
    probe: ChangeProbe

    def close(self) -> None:
        self.probe.close()
        self.database.dispose()


def open_runtime(settings: Settings, *, resolver: Resolver = system_resolver) -> Runtime:
    """Prepare everything, or raise :class:`ConfigurationError` saying what is wrong."""
    if settings.uses_embedded_database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    database.migrate()
    box = SecretBox(_keys(settings, database), reload=lambda: read_keys(settings.resolved_key_file))
    trail = AuditTrail(database, load_audit_key(database, box))
    service = ProfileService(
        database=database, box=box, settings=settings, trail=trail, resolver=resolver
    )
    service.verify_secrets_readable()
    probe = probe_for(database.engine)
    service.watch(probe)
    authenticator = Authenticator(
        database,
        cache_seconds=settings.auth_cache_seconds,
        failure_limit=settings.signin_failure_limit,
        failure_window=settings.signin_failure_window,
    )
    return Runtime(settings, database, box, authenticator, service, trail, probe)


def _keys(settings: Settings, database: Database) -> list[bytes]:
    key_file = settings.resolved_key_file
    with database.read() as connection:
        has_secret = bool(load_profile(connection).tokens()) or (
            read_value(connection, AUDIT_KEY_NAME) is not None
        )
    if has_secret and not key_file.exists():
        raise ConfigurationError(
            f"The key file {key_file} is missing but the database holds secrets "
            "encrypted with it. Restore the key file (SMTP_PROFILE_SECRET_KEY_FILE); a new key "
            "would not decrypt it."
        )
    return load_or_create_keys(key_file, create=True)


def ensure_first_admin(runtime: Runtime) -> str | None:
    """Create ``admin`` with a generated password when there are no users yet.

    Returns the password (to be shown once), or ``None`` when users exist.
    """
    with runtime.database.write() as connection:
        if count_users(connection) > 0:
            return None
        password = secrets.token_urlsafe(18)
        try:
            insert_user(
                connection,
                name="admin",
                role=Role.ADMIN.value,
                password_hash=hash_password(password),
            )
        except UserExists:  # another instance starting at the same time was first
            return None
    return password
