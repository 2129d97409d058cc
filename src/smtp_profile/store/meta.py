"""Small named values the service keeps in the database (encrypted when secret)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from smtp_profile.store.schema import meta


def read_value(connection: Connection, name: str) -> bytes | None:
    value = connection.execute(select(meta.c.value).where(meta.c.name == name)).scalar_one_or_none()
    return bytes(value) if value is not None else None


def insert_value_if_absent(connection: Connection, name: str, value: bytes) -> bool:
    """Insert unless present; ``False`` when another writer was first."""
    try:
        with connection.begin_nested():
            connection.execute(insert(meta).values(name=name, value=value))
    except IntegrityError:
        return False
    return True


def write_value(connection: Connection, name: str, value: bytes) -> None:
    connection.execute(update(meta).where(meta.c.name == name).values(value=value))
