"""Appending to and reading the audit log; the chain head serialises writers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from smtp_profile.audit import (
    AuditEntry,
    AuditRecord,
    ChainHead,
    Change,
    chain_hash,
)
from smtp_profile.store.schema import audit_head, audit_log


def append_audit(connection: Connection, entry: AuditEntry, *, key: bytes) -> AuditRecord:
    """Chain ``entry`` after the newest record, inside the caller's transaction.

    The head row is locked (``FOR UPDATE`` on PostgreSQL; SQLite write transactions
    are already exclusive), so concurrent writers append one after another.
    """
    query = select(audit_head).where(audit_head.c.id == 1)
    if connection.dialect.name != "sqlite":
        query = query.with_for_update()
    head = connection.execute(query).mappings().one()
    record_id = int(head["last_id"]) + 1
    prev_hash = str(head["last_hash"])
    digest = chain_hash(key, prev_hash, entry)
    connection.execute(
        insert(audit_log).values(
            id=record_id,
            at=entry.at,
            user_name=entry.user,
            client=entry.client,
            operation=entry.operation,
            outcome=entry.outcome,
            changes=json.dumps([change.as_json() for change in entry.changes]),
            detail=entry.detail,
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    connection.execute(
        update(audit_head).where(audit_head.c.id == 1).values(last_id=record_id, last_hash=digest)
    )
    return AuditRecord(record_id, entry, prev_hash, digest)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    operation: str | None = None


def _conditions(where: AuditFilter) -> list[object]:
    conditions: list[object] = []
    if where.since is not None:
        conditions.append(audit_log.c.at >= where.since)
    if where.until is not None:
        conditions.append(audit_log.c.at < where.until)
    if where.user is not None:
        conditions.append(func.lower(audit_log.c.user_name) == where.user.casefold())
    if where.operation is not None:
        conditions.append(audit_log.c.operation == where.operation)
    return conditions


def list_audit(
    connection: Connection, where: AuditFilter, *, offset: int, limit: int
) -> tuple[list[AuditRecord], int]:
    """A page of records, newest first, and the total that match."""
    conditions = _conditions(where)
    total = connection.execute(
        select(func.count()).select_from(audit_log).where(*conditions)  # type: ignore[arg-type]
    ).scalar_one()
    rows = connection.execute(
        select(audit_log)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(audit_log.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).mappings()
    return [_record(row) for row in rows], int(total)


def iter_audit(connection: Connection, batch: int = 500) -> Iterator[AuditRecord]:
    """Every record in chain order, read in batches."""
    last = 0
    while True:
        rows = list(
            connection.execute(
                select(audit_log).where(audit_log.c.id > last).order_by(audit_log.c.id).limit(batch)
            ).mappings()
        )
        if not rows:
            return
        for row in rows:
            yield _record(row)
        last = int(rows[-1]["id"])


def load_head(connection: Connection) -> ChainHead:
    row = connection.execute(select(audit_head).where(audit_head.c.id == 1)).mappings().one()
    return ChainHead(int(row["last_id"]), str(row["last_hash"]))


def _record(row: RowMapping) -> AuditRecord:
    at: datetime = row["at"]
    if at.tzinfo is None:  # SQLite returns naive datetimes; they were stored as UTC
        at = at.replace(tzinfo=UTC)
    entry = AuditEntry(
        at=at,
        user=row["user_name"],
        client=row["client"],
        operation=row["operation"],
        outcome=row["outcome"],
        changes=tuple(
            Change(item["Field"], item["Before"], item["After"])
            for item in json.loads(row["changes"])
        ),
        detail=row["detail"],
    )
    return AuditRecord(int(row["id"]), entry, row["prev_hash"], row["hash"])
