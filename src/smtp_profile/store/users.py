"""API users: name, role and password hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, RowMapping, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from smtp_profile.store.schema import api_user


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    role: str
    password_hash: str
    created_at: datetime


class UserExists(Exception):
    pass


def find_user(connection: Connection, name: str) -> UserRecord | None:
    row = (
        connection.execute(select(api_user).where(api_user.c.name_folded == name.casefold()))
        .mappings()
        .first()
    )
    return None if row is None else _record(row)


def list_users(connection: Connection) -> list[UserRecord]:
    rows = connection.execute(select(api_user).order_by(api_user.c.name_folded)).mappings()
    return [_record(row) for row in rows]


def _record(row: RowMapping) -> UserRecord:
    return UserRecord(
        name=row["name"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
    )


def insert_user(connection: Connection, *, name: str, role: str, password_hash: str) -> None:
    try:
        connection.execute(
            insert(api_user).values(
                name=name,
                name_folded=name.casefold(),
                role=role,
                password_hash=password_hash,
                created_at=datetime.now(UTC),
            )
        )
    except IntegrityError:
        raise UserExists(name) from None


def delete_user(connection: Connection, name: str) -> bool:
    result = connection.execute(delete(api_user).where(api_user.c.name_folded == name.casefold()))
    return bool(result.rowcount)


def count_users(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(api_user)).scalar_one())
