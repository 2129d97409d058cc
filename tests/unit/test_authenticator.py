"""The login cache: renewal without re-hashing, one hash for concurrent checks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from smtp_profile import accounts
from smtp_profile.accounts import Authenticator
from smtp_profile.store.database import Database
from smtp_profile.store.schema import api_user
from smtp_profile.store.users import insert_user

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'users.db'}")
    database.migrate()
    with database.write() as connection:
        insert_user(connection, name="ops", role="admin", password_hash=CHEAP.hash("pw-123456789"))
    return database


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = accounts._HASHER

    class CountingHasher:
        def verify(self, stored: str, password: str) -> bool:
            calls.append(password)
            return real.verify(stored, password)

    monkeypatch.setattr(accounts, "_HASHER", CountingHasher())
    return calls


def test_expired_entry_is_renewed_without_hashing(
    database: Database, hash_checks: list[str]
) -> None:
    clock = Clock()
    auth = Authenticator(database, cache_seconds=30, clock=clock)
    assert auth.verify("ops", "pw-123456789") is not None
    assert auth.cached("ops", "pw-123456789") is not None
    clock.now += 31
    assert auth.cached("ops", "pw-123456789") is None
    assert auth.verify("ops", "pw-123456789") is not None
    assert hash_checks == ["pw-123456789"]  # the renewal compared the stored hash only
    assert auth.cached("ops", "pw-123456789") is not None


def test_a_changed_password_is_hashed_again(database: Database, hash_checks: list[str]) -> None:
    clock = Clock()
    auth = Authenticator(database, cache_seconds=30, clock=clock)
    assert auth.verify("ops", "pw-123456789") is not None
    with database.write() as connection:
        connection.execute(update(api_user).values(password_hash=CHEAP.hash("new-pw-123456")))
    clock.now += 31
    assert auth.verify("ops", "pw-123456789") is None
    assert len(hash_checks) == 2


def test_concurrent_checks_of_one_pair_share_one_hash(
    database: Database, hash_checks: list[str]
) -> None:
    auth = Authenticator(database, cache_seconds=0)  # nothing cached: every call verifies
    gate = threading.Barrier(8)
    results: list[object] = []

    def check() -> None:
        gate.wait()
        results.append(auth.verify("ops", "pw-123456789"))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result is not None for result in results) and len(results) == 8
    assert 1 <= len(hash_checks) < 8
