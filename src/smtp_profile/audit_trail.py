"""The audit trail as the service uses it: record, page through, verify."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection

from smtp_profile.audit import AuditEntry, AuditRecord, Change, VerifyResult, verify_chain
from smtp_profile.crypto import SecretBox
from smtp_profile.secret import Secret
from smtp_profile.store.audit import AuditFilter, append_audit, iter_audit, list_audit, load_head
from smtp_profile.store.database import Database
from smtp_profile.store.meta import insert_value_if_absent, read_value

AUDIT_KEY_NAME = "audit_key"


def load_audit_key(database: Database, box: SecretBox) -> bytes:
    """The chain's HMAC key: random, stored encrypted under the key file's key."""
    with database.write() as connection:
        token = read_value(connection, AUDIT_KEY_NAME)
        if token is None:
            token = box.encrypt(Secret(secrets.token_hex(32)))
            insert_value_if_absent(connection, AUDIT_KEY_NAME, token)
            token = read_value(connection, AUDIT_KEY_NAME)
    assert token is not None
    return decrypt_audit_key(box, token)


def decrypt_audit_key(box: SecretBox, token: bytes) -> bytes:
    return bytes.fromhex(box.decrypt(token).reveal())


class AuditTrail:
    def __init__(
        self,
        database: Database,
        key: bytes,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._key = key
        self._clock = clock

    def rekey(self, key: bytes) -> None:
        """Use another chain key (after a backup with its own key was restored)."""
        self._key = key

    def entry(
        self,
        *,
        user: str | None,
        client: str | None,
        operation: str,
        outcome: str,
        changes: tuple[Change, ...] = (),
        detail: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(self._clock(), user, client, operation, outcome, changes, detail)

    def append(self, connection: Connection, entry: AuditEntry) -> AuditRecord:
        """Record inside the caller's transaction (the change and its record commit together)."""
        return append_audit(connection, entry, key=self._key)

    def record(self, entry: AuditEntry) -> AuditRecord:
        with self._database.write() as connection:
            return self.append(connection, entry)

    def page(
        self, where: AuditFilter, *, page: int, page_size: int
    ) -> tuple[list[AuditRecord], int]:
        with self._database.read() as connection:
            return list_audit(connection, where, offset=(page - 1) * page_size, limit=page_size)

    def verify(self) -> VerifyResult:
        with self._database.read() as connection:
            head = load_head(connection)
            return verify_chain(iter_audit(connection), key=self._key, head=head)
