"""API users: roles, password hashing, login names, and a cache of verified logins.

A slow password hash checked on every request would cap the API at a few
requests per second, so a verified (login, password) pair is remembered in
memory for ``cache_seconds``, keyed by a keyed hash that is never stored.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smtp_profile.errors import InvalidField, RateLimited
from smtp_profile.limits import SlidingWindow
from smtp_profile.rules import has_control_character
from smtp_profile.store.database import Database
from smtp_profile.store.users import UserRecord, find_user

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 12
MAX_CACHED_LOGINS = 1024


class Role(StrEnum):
    READER = "reader"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the stored user name and the role."""

    name: str
    role: Role

    @property
    def may_write(self) -> bool:
        return self.role is Role.ADMIN


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_new_user(name: str, password: str) -> None:
    """Rules for a new API user's name and password."""
    if not name or has_control_character(name) or name != name.strip() or len(name) > 256:
        raise InvalidField("Name", "format", "The user name must be one line without outer spaces.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField(
            "Password",
            "length",
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
        )


def login_candidates(login: str) -> list[str]:
    """``DOMAIN\\user``, ``user@domain`` and ``user`` all name the user ``user``.

    The login as typed is tried first, so a user whose name is itself an
    address (``ops@example.com``) still matches exactly.
    """
    candidates = [login]
    if "\\" in login:
        candidates.append(login.rsplit("\\", 1)[1])
    if "@" in login:
        candidates.append(login.split("@", 1)[0])
    return [name for name in dict.fromkeys(candidates) if name]


@dataclass(frozen=True, slots=True)
class _Verified:
    """A pair checked against ``password_hash``; trusted until ``expires``."""

    principal: Principal
    expires: float
    password_hash: str


@dataclass(slots=True)
class _Flight:
    """One hash computation that concurrent requests for the same pair wait on."""

    done: threading.Event = field(default_factory=threading.Event)
    result: Principal | None = None


class Authenticator:
    """Checks Basic credentials against stored users, with a short in-memory cache."""

    def __init__(
        self,
        database: Database,
        *,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        failure_limit: int = 0,
        failure_window: float = 300.0,
        max_parallel_hashes: int = 2,
    ) -> None:
        self._failures = SlidingWindow(limit=failure_limit, window=failure_window, clock=clock)
        self._database = database
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache_key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, _Verified] = OrderedDict()
        self._inflight: dict[bytes, _Flight] = {}
        self._lock = threading.Lock()
        # Each argon2 check takes ~64 MiB and a core for ~0.1-0.2 s: bound them.
        self._hashing = threading.BoundedSemaphore(max_parallel_hashes)

    def cached(self, login: str, password: str) -> Principal | None:
        """The principal when this exact pair was verified recently (no hashing)."""
        key = self._key(login, password)
        with self._lock:
            found = self._cache.get(key)
            if found is None or found.expires < self._clock():
                return None
            return found.principal

    def verify(self, login: str, password: str, *, client: str | None = None) -> Principal | None:
        """The slow path: look the user up and check the password hash.

        After too many failures for this login from this address, refuses with
        :class:`RateLimited` before hashing anything (no CPU spent on guessing).
        Concurrent checks of the same pair share one hash computation.
        """
        key = (login.casefold(), client)
        wait = self._failures.retry_after(key)
        if wait:
            raise RateLimited(
                "Too many failed sign-ins for this user from this address; try again later.",
                retry_after=wait,
            )
        principal = self._single_flight(login, password)
        if principal is None:
            self._failures.add(key)
        else:
            self._failures.clear(key)
        return principal

    def _single_flight(self, login: str, password: str) -> Principal | None:
        key = self._key(login, password)
        with self._lock:
            flight = self._inflight.get(key)
            leader = flight is None
            if flight is None:
                flight = self._inflight[key] = _Flight()
        if not leader:
            flight.done.wait()
            return flight.result
        try:
            flight.result = self._check(key, login, password)
        finally:
            with self._lock:
                del self._inflight[key]
            flight.done.set()
        return flight.result

    def _check(self, key: bytes, login: str, password: str) -> Principal | None:
        record = self._find(login)
        with self._lock:
            stale = self._cache.get(key)
        if record is not None and stale is not None and stale.password_hash == record.password_hash:
            # Verified against this very hash before: renewing needs no new hash.
            principal = Principal(name=record.name, role=Role(record.role))
            self._remember(key, principal, record.password_hash)
            return principal
        stored_hash = record.password_hash if record is not None else _DUMMY_HASH
        with self._hashing:
            try:
                _HASHER.verify(stored_hash, password)
            except (VerificationError, InvalidHashError):
                return None
        if record is None:
            return None
        principal = Principal(name=record.name, role=Role(record.role))
        self._remember(key, principal, record.password_hash)
        return principal

    def _find(self, login: str) -> UserRecord | None:
        with self._database.read() as connection:
            for name in login_candidates(login):
                record = find_user(connection, name)
                if record is not None:
                    return record
        return None

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()

    def _remember(self, key: bytes, principal: Principal, password_hash: str) -> None:
        if self._cache_seconds <= 0:
            return
        entry = _Verified(principal, self._clock() + self._cache_seconds, password_hash)
        with self._lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_CACHED_LOGINS:
                self._cache.popitem(last=False)

    def _key(self, login: str, password: str) -> bytes:
        material = login.encode("utf-8") + b"\x00" + password.encode("utf-8")
        return hashlib.blake2b(material, key=self._cache_key, digest_size=32).digest()
