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
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smtp_profile.errors import InvalidField, RateLimited
from smtp_profile.limits import SlidingWindow
from smtp_profile.rules import has_control_character
from smtp_profile.store.database import Database
from smtp_profile.store.users import find_user

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
    ) -> None:
        self._failures = SlidingWindow(limit=failure_limit, window=failure_window, clock=clock)
        self._database = database
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache_key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, login: str, password: str) -> Principal | None:
        """The principal when this exact pair was verified recently (no hashing)."""
        key = self._key(login, password)
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                return None
            principal, expires = found
            if expires < self._clock():
                del self._cache[key]
                return None
            return principal

    def verify(self, login: str, password: str, *, client: str | None = None) -> Principal | None:
        """The slow path: look the user up and check the password hash.

        After too many failures for this login from this address, refuses with
        :class:`RateLimited` before hashing anything (no CPU spent on guessing).
        """
        key = (login.casefold(), client)
        wait = self._failures.retry_after(key)
        if wait:
            raise RateLimited(
                "Too many failed sign-ins for this user from this address; try again later.",
                retry_after=wait,
            )
        principal = self._check(login, password)
        if principal is None:
            self._failures.add(key)
        else:
            self._failures.clear(key)
        return principal

    def _check(self, login: str, password: str) -> Principal | None:
        with self._database.read() as connection:
            record = None
            for name in login_candidates(login):
                record = find_user(connection, name)
                if record is not None:
                    break
        stored_hash = record.password_hash if record is not None else _DUMMY_HASH
        try:
            _HASHER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if record is None:
            return None
        principal = Principal(name=record.name, role=Role(record.role))
        self._remember(login, password, principal)
        return principal

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()

    def _remember(self, login: str, password: str, principal: Principal) -> None:
        if self._cache_seconds <= 0:
            return
        key = self._key(login, password)
        with self._lock:
            self._cache[key] = (principal, self._clock() + self._cache_seconds)
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_CACHED_LOGINS:
                self._cache.popitem(last=False)

    def _key(self, login: str, password: str) -> bytes:
        material = login.encode("utf-8") + b"\x00" + password.encode("utf-8")
        return hashlib.blake2b(material, key=self._cache_key, digest_size=32).digest()
