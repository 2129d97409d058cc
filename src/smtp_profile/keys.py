"""Key rotation: re-encrypt every stored secret under a new key, then retire old keys.

Rotation first writes the key file with the new key in front of the old ones, so
every instance can read old and new tokens during the change (readers never stop);
then it re-encrypts the secrets in one transaction. Retiring drops the old keys
once nothing needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtp_profile.audit import Operation
from smtp_profile.audit_trail import AUDIT_KEY_NAME
from smtp_profile.crypto import SecretBox, generate_key, read_keys, write_keys
from smtp_profile.errors import ConfigurationError, SecretUnreadable
from smtp_profile.runtime import Runtime
from smtp_profile.store.meta import read_value, write_value
from smtp_profile.store.profiles import load_profile, replace_secret_token


@dataclass(frozen=True, slots=True)
class RotationReport:
    secrets_reencrypted: int
    keys_in_file: int


def rotate_keys(runtime: Runtime, *, actor: str) -> RotationReport:
    key_file = runtime.settings.resolved_key_file
    keys = [generate_key(), *read_keys(key_file)]
    write_keys(key_file, keys)
    box = SecretBox(keys)
    count = 0
    with runtime.database.write() as connection:
        stored = load_profile(connection, for_update=True)
        for column, token in (
            ("relay_password", stored.password_token),
            ("client_secret", stored.client_secret_token),
        ):
            if token is not None:
                replace_secret_token(connection, column, box.rotate(token))
                count += 1
        audit_token = read_value(connection, AUDIT_KEY_NAME)
        if audit_token is not None:
            write_value(connection, AUDIT_KEY_NAME, box.rotate(audit_token))
            count += 1
        runtime.trail.append(
            connection,
            runtime.trail.entry(
                user=actor,
                client=None,
                operation=Operation.KEY_ROTATION,
                outcome="ok",
                detail=f"{count} secrets re-encrypted under a new key",
            ),
        )
    return RotationReport(count, len(keys))


def retire_old_keys(runtime: Runtime) -> int:
    """Keep only the newest key, after checking every secret decrypts with it alone."""
    key_file = runtime.settings.resolved_key_file
    keys = read_keys(key_file)
    primary_only = SecretBox(keys[:1])
    with runtime.database.read() as connection:
        tokens = [*load_profile(connection).tokens(), read_value(connection, AUDIT_KEY_NAME)]
    try:
        for token in tokens:
            if token is not None:
                primary_only.decrypt(token)
    except SecretUnreadable:
        raise ConfigurationError(
            "Some secrets are still encrypted under an older key: run "
            "`smtp-profile keys rotate` first."
        ) from None
    write_keys(key_file, keys[:1])
    return len(keys) - 1
