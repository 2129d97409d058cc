"""Export and import of the profile and the audit trail.

Secrets stay encrypted in the file (they need the same key file to be used), or the
stored secret values (relay password, OAuth client secret) are left out on request.
The audit trail is copied with its hashes and its encrypted chain key, so
``audit verify`` holds after a restore.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from smtp_profile.audit import Operation
from smtp_profile.audit_trail import AUDIT_KEY_NAME, decrypt_audit_key
from smtp_profile.errors import ConfigurationError, SecretUnreadable
from smtp_profile.runtime import Runtime
from smtp_profile.store.meta import read_value
from smtp_profile.store.profiles import SECRET_COLUMNS
from smtp_profile.store.schema import audit_head, audit_log, meta, profile

FORMAT = "smtp-profile-backup"
VERSION = 1


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"time": (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    if isinstance(value, dict) and "time" in value:
        return datetime.fromisoformat(value["time"])
    return value


def export_backup(runtime: Runtime, *, include_secrets: bool = True) -> dict[str, Any]:
    with runtime.database.read() as connection:
        rows = {
            name: [dict(row) for row in connection.execute(select(table)).mappings()]
            for name, table in (
                ("profile", profile),
                ("audit_log", audit_log),
                ("audit_head", audit_head),
                ("meta", meta),
            )
        }
    if not include_secrets:
        for row in rows["profile"]:
            for column in SECRET_COLUMNS:
                row[column] = None
    return {
        "Format": FORMAT,
        "Version": VERSION,
        "ExportedAt": datetime.now(UTC).isoformat(),
        "IncludesPassword": include_secrets,
        "Tables": {
            name: [{key: _encode(value) for key, value in row.items()} for row in table_rows]
            for name, table_rows in rows.items()
        },
    }


def import_backup(runtime: Runtime, document: dict[str, Any], *, actor: str) -> None:
    """Replace the profile and audit trail with the backup's, in one transaction."""
    if document.get("Format") != FORMAT or document.get("Version") != VERSION:
        raise ConfigurationError("This file is not an smtp-profile backup of version 1.")
    tables = {
        name: [{key: _decode(value) for key, value in row.items()} for row in rows]
        for name, rows in document["Tables"].items()
    }
    _check_secrets_readable(runtime, tables)
    with runtime.database.write() as connection:
        own_key = read_value(connection, AUDIT_KEY_NAME)
        for table in (audit_log, audit_head, meta, profile):
            connection.execute(delete(table))
        for name, table in (
            ("profile", profile),
            ("audit_log", audit_log),
            ("audit_head", audit_head),
            ("meta", meta),
        ):
            if tables.get(name):
                connection.execute(insert(table), tables[name])
        imported_key = read_value(connection, AUDIT_KEY_NAME)
        if imported_key is not None:
            runtime.trail.rekey(decrypt_audit_key(runtime.box, imported_key))
        elif own_key is not None:  # a backup without a chain key keeps this one's
            connection.execute(insert(meta).values(name=AUDIT_KEY_NAME, value=own_key))
        stored = connection.execute(select(profile.c.revision)).scalar_one_or_none()
        if stored is not None:  # a new revision, so caches and ETags see the change
            connection.execute(update(profile).values(revision=int(stored) + 1))
        runtime.trail.append(
            connection,
            runtime.trail.entry(
                user=actor,
                client=None,
                operation=Operation.IMPORT,
                outcome="ok",
                detail=f"restored a backup exported at {document.get('ExportedAt')}",
            ),
        )
    runtime.service.reload()


def _check_secrets_readable(runtime: Runtime, tables: dict[str, list[dict[str, Any]]]) -> None:
    tokens = [
        row[column]
        for row in tables.get("profile", [])
        for column in SECRET_COLUMNS
        if row.get(column)
    ]
    tokens += [row["value"] for row in tables.get("meta", []) if row["name"] == AUDIT_KEY_NAME]
    try:
        for token in tokens:
            runtime.box.decrypt(token)
    except SecretUnreadable:
        raise ConfigurationError(
            "The backup's secrets were encrypted with another key file: configure that key "
            "file (SMTP_PROFILE_SECRET_KEY_FILE) before importing."
        ) from None


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)
