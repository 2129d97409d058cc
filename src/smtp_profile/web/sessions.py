"""Web page sessions: a signed, expiring cookie naming the user, the role and a CSRF token.

The cookie is the whole session: checking it costs one HMAC, no database read and no
password hash. Two small things are kept in memory:

* sessions signed out before they expire (until they would have expired), so a copied
  cookie stops working at sign-out;
* each signed-in user's role, read again from the database at most every
  ``recheck_seconds`` (``SMTP_PROFILE_AUTH_CACHE_SECONDS``), so a removed user or a
  changed role takes effect as soon as it does for HTTP Basic.

Both are per process: with several instances, sign-out revokes the cookie only in the
instance that served it (the cookie is cleared in the browser either way).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
from starlette.requests import Request

from smtp_profile.accounts import Principal, Role
from smtp_profile.store.database import Database
from smtp_profile.store.users import find_user

COOKIE_NAME = "smtp_profile_session"
STATE_KEY = "web_sessions"
_PREFIX = "v1"
_CLOCK_SKEW = 60.0  # seconds an issued-at may lie in the future (several instances)
_MAX_TRACKED = 4096

Clock = Callable[[], float]
RoleLookup = Callable[[str], Role | None]


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie says. ``issued_at`` is a Unix time."""

    user: str
    role: Role
    issued_at: float
    csrf_token: str = field(repr=False)

    def csrf_matches(self, token: str) -> bool:
        return hmac.compare_digest(token.encode("utf-8"), self.csrf_token.encode("utf-8"))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs and reads cookie values: ``v1.<base64url JSON>.<base64url HMAC-SHA256>``. Pure."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the session key must be at least 32 bytes")
        self._key = key

    def encode(self, session: Session) -> str:
        payload = {
            "user": session.user,
            "role": session.role.value,
            "iat": session.issued_at,
            "csrf": session.csrf_token,
        }
        body = _b64encode(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        signed = f"{_PREFIX}.{body}"
        return f"{signed}.{self._sign(signed)}"

    def decode(self, value: str) -> Session | None:
        """The session, or ``None`` when the value is malformed or its signature is wrong."""
        if not value.isascii():
            return None
        signed, _, signature = value.rpartition(".")
        prefix, _, body = signed.partition(".")
        if prefix != _PREFIX or not body:
            return None
        if not hmac.compare_digest(signature.encode("ascii"), self._sign(signed).encode("ascii")):
            return None
        try:
            payload = json.loads(_b64decode(body))
            session = Session(
                user=str(payload["user"]),
                role=Role(payload["role"]),
                issued_at=float(payload["iat"]),
                csrf_token=str(payload["csrf"]),
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        return session if session.user and session.csrf_token else None

    def _sign(self, signed: str) -> str:
        digest = hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()
        return _b64encode(digest)


def database_role_lookup(database: Database) -> RoleLookup:
    """The stored role of a user, ``None`` when the user no longer exists."""

    def lookup(name: str) -> Role | None:
        with database.read() as connection:
            record = find_user(connection, name)
        return Role(record.role) if record is not None else None

    return lookup


class SessionManager:
    """Starts, reads and ends sessions; all times come from ``clock`` (Unix seconds)."""

    def __init__(
        self,
        *,
        key: bytes,
        lifetime: float,
        recheck_seconds: float,
        lookup: RoleLookup,
        clock: Clock = time.time,
    ) -> None:
        self._codec = SessionCodec(key)
        self.lifetime = lifetime
        self._recheck_seconds = recheck_seconds
        self._lookup = lookup
        self._clock = clock
        self._revoked: dict[str, float] = {}
        self._roles: OrderedDict[str, tuple[Role | None, float]] = OrderedDict()

    def start(self, principal: Principal) -> tuple[str, Session]:
        """A new session for a principal whose password was just verified."""
        now = self._clock()
        session = Session(
            user=principal.name,
            role=principal.role,
            issued_at=now,
            csrf_token=secrets.token_urlsafe(32),
        )
        self._remember_role(principal.name, principal.role, now)
        return self._codec.encode(session), session

    def read(self, value: str | None) -> Session | None:
        """The session in a cookie value when it is genuine, current and not signed out."""
        if not value:
            return None
        session = self._codec.decode(value)
        if session is None:
            return None
        now = self._clock()
        if now - session.issued_at >= self.lifetime or session.issued_at > now + _CLOCK_SKEW:
            return None
        if session.csrf_token in self._revoked:
            return None
        return session

    def from_request(self, request: Request) -> Session | None:
        return self.read(request.cookies.get(COOKIE_NAME))

    def expires_at(self, session: Session) -> float:
        return session.issued_at + self.lifetime

    async def principal(self, session: Session) -> Principal | None:
        """The session's user with the role as stored now (``None``: the user was removed).

        The database is read at most once every ``recheck_seconds`` per user.
        """
        key = session.user.casefold()
        now = self._clock()
        known = self._roles.get(key)
        if known is not None and now - known[1] < self._recheck_seconds:
            role = known[0]
        else:
            role = await anyio.to_thread.run_sync(self._lookup, session.user)
            self._remember_role(session.user, role, now)
        return Principal(name=session.user, role=role) if role is not None else None

    def end(self, session: Session) -> None:
        """Sign out: the cookie is refused from now on, even if someone kept a copy."""
        now = self._clock()
        for token, until in list(self._revoked.items()):
            if until <= now:
                del self._revoked[token]
        if len(self._revoked) >= _MAX_TRACKED:
            # Never forget a revocation early: drop the one that expires first.
            del self._revoked[min(self._revoked, key=self._revoked.__getitem__)]
        self._revoked[session.csrf_token] = self.expires_at(session)

    def _remember_role(self, name: str, role: Role | None, now: float) -> None:
        key = name.casefold()
        self._roles[key] = (role, now)
        self._roles.move_to_end(key)
        while len(self._roles) > _MAX_TRACKED:
            self._roles.popitem(last=False)


def sessions_of(request: Request) -> SessionManager | None:
    """The application's session manager, when the web page is installed."""
    manager = getattr(request.app.state, STATE_KEY, None)
    return manager if isinstance(manager, SessionManager) else None


def session_cookie(value: str, *, max_age: float, secure: bool) -> str:
    """The ``Set-Cookie`` value that stores a session."""
    cookie = f"{COOKIE_NAME}={value}; Path=/; Max-Age={int(max_age)}; HttpOnly; SameSite=Strict"
    return cookie + "; Secure" if secure else cookie


def cleared_cookie(*, secure: bool) -> str:
    """The ``Set-Cookie`` value that removes the session cookie."""
    cookie = (
        f"{COOKIE_NAME}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
        "HttpOnly; SameSite=Strict"
    )
    return cookie + "; Secure" if secure else cookie
