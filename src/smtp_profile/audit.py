"""The audit trail's pure rules: what changed, and the keyed hash chain.

Each record's hash is an HMAC over the previous record's hash and the record's
own canonical bytes, under a key that is not in the database. Editing, inserting
or deleting a record breaks the chain at that record; deleting the newest ones is
caught by the head (the last id and hash), which is updated in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from smtp_profile.profile import ProfileSettings, profile_view
from smtp_profile.secret_plan import StoredSecrets
from smtp_profile.secretref import SecretRef

GENESIS = "0" * 64
PASSWORD_FIELD = "RelayPassword"  # noqa: S105 - a field name, not a secret


class Operation(StrEnum):
    PUT = "put"
    TEST = "test"
    DENIED = "denied"
    KEY_ROTATION = "keys.rotate"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: Any
    after: Any

    def as_json(self) -> dict[str, Any]:
        return {"Field": self.field, "Before": self.before, "After": self.after}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event, before it is chained."""

    at: datetime
    user: str | None
    client: str | None
    operation: str
    outcome: str
    changes: tuple[Change, ...] = ()
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored event with its place in the chain."""

    id: int
    entry: AuditEntry
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "Id": self.id,
            "Time": entry.at.isoformat(),
            "User": entry.user,
            "ClientAddress": entry.client,
            "Operation": entry.operation,
            "Outcome": entry.outcome,
            "Changes": [change.as_json() for change in entry.changes] or None,
            "Detail": entry.detail,
        }


def diff_settings(
    before: StoredSecrets,
    after: StoredSecrets,
    *,
    password_replaced: bool,
    client_secret_replaced: bool = False,
) -> tuple[Change, ...]:
    """Field-by-field changes. Secret values appear only as "set", "changed" or
    "removed"; a reference shows its provider and parameters (they are not secret). The
    user name shows as version 1 shows it (its value, or the reference)."""
    old, new = _plain(before.settings), _plain(after.settings)
    changes = [Change(name, old[name], new[name]) for name in old if old[name] != new[name]]
    b, a = before.settings, after.settings
    for change in (
        _secret_change(
            PASSWORD_FIELD,
            (b.password_ref, before.has_password),
            (a.password_ref, after.has_password),
            replaced=password_replaced,
        ),
        _secret_change(
            "ClientId",
            (b.client_id_ref, b.client_id is not None),
            (a.client_id_ref, a.client_id is not None),
            replaced=a.client_id is not None and a.client_id != b.client_id,
        ),
        _secret_change(
            "ClientSecret",
            (b.client_secret_ref, before.has_client_secret),
            (a.client_secret_ref, after.has_client_secret),
            replaced=client_secret_replaced,
        ),
    ):
        if change is not None:
            changes.append(change)
    return tuple(changes)


def _plain(settings: ProfileSettings) -> dict[str, Any]:
    view = profile_view(settings, has_password=False)
    for name in ("Id", "HasPassword"):
        view.pop(name)
    if settings.username_ref is not None:
        view["RelayUsername"] = settings.username_ref.as_json()
    view.update(
        TokenEndpoint=settings.token_endpoint, Scope=settings.scope, Audience=settings.audience
    )
    return view


def _secret_change(
    name: str,
    before: tuple[SecretRef | None, bool],
    after: tuple[SecretRef | None, bool],
    *,
    replaced: bool,
) -> Change | None:
    old = _secret_state(*before)
    if replaced:
        return Change(name, old, "changed")
    new = _secret_state(*after)
    if old == new:
        return None
    return Change(name, old, new if new is not None else "removed")


def _secret_state(ref: SecretRef | None, has_value: bool) -> Any:
    if ref is not None:
        return ref.as_json()
    return "set" if has_value else None


def canonical_bytes(entry: AuditEntry) -> bytes:
    """A stable byte form of the entry (sorted keys, UTC time, no whitespace)."""
    document = {
        "at": entry.at.isoformat(),
        "user": entry.user,
        "client": entry.client,
        "operation": entry.operation,
        "outcome": entry.outcome,
        "changes": [change.as_json() for change in entry.changes],
        "detail": entry.detail,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(key: bytes, prev_hash: str, entry: AuditEntry) -> str:
    return hmac.new(
        key, prev_hash.encode() + b"\n" + canonical_bytes(entry), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    last_id: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} records verified"
        return f"audit chain broken at record {self.first_bad_id}: {self.reason}"


def verify_chain(
    records: Iterable[AuditRecord], *, key: bytes, head: ChainHead | None
) -> VerifyResult:
    """Walk the records in id order; report the first one altered, inserted or deleted."""
    previous = GENESIS
    checked = 0
    last: AuditRecord | None = None
    for record in records:
        if record.prev_hash != previous:
            return VerifyResult(
                False,
                checked,
                record.id,
                "it does not follow the record before it "
                "(a record before it was deleted or inserted)",
            )
        if not hmac.compare_digest(chain_hash(key, record.prev_hash, record.entry), record.hash):
            return VerifyResult(
                False, checked, record.id, "its content does not match its hash (altered or forged)"
            )
        previous = record.hash
        checked += 1
        last = record
    expected = head or ChainHead(0, GENESIS)
    if (last.id if last else 0) != expected.last_id or previous != expected.last_hash:
        shown = (last.id if last else 0) + 1 if last else 1
        return VerifyResult(
            False,
            checked,
            shown,
            f"records after id {last.id if last else 0} are missing "
            f"(the newest record should be id {expected.last_id})",
        )
    return VerifyResult(True, checked)
