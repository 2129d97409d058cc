"""Tokens kept in memory until shortly before they expire (never stored or logged).

Keyed by the token endpoint, the client ID, a keyed hash of the client secret, the
scope and the audience, so a changed secret or scope never reuses a token. The clock is
injectable, so tests move time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from smtp_profile.oauth.grant import ClientAuth, ClientCredentials
from smtp_profile.oauth.responses import Token
from smtp_profile.rules import endpoint_identity
from smtp_profile.secret import Secret

MAX_MARGIN = 60.0  # seconds before expiry when a token is renewed instead of used
MARGIN_SHARE = 0.1  # ... or a tenth of its lifetime, when that is shorter
MAX_ENTRIES = 16


@dataclass(frozen=True, slots=True)
class CachedToken:
    value: Secret
    obtained_at: float
    renew_at: float  # the clock reading from which a fresh token is fetched instead

    def remaining(self, now: float) -> float:
        return self.renew_at - now


def renew_margin(lifetime: float) -> float:
    return min(MAX_MARGIN, lifetime * MARGIN_SHARE)


class TokenCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._salt = secrets.token_bytes(32)  # per process: the keys reveal nothing offline
        self._tokens: dict[str, CachedToken] = {}
        self._methods: dict[str, ClientAuth] = {}
        self._lock = threading.Lock()

    def key(self, grant: ClientCredentials) -> str:
        parts = (
            endpoint_identity(grant.token_endpoint),
            grant.client_id,
            grant.client_secret.reveal(),
            grant.scope or "",
            grant.audience or "",
        )
        message = "\x00".join(parts).encode()
        return hmac.new(self._salt, message, hashlib.sha256).hexdigest()

    def get(self, key: str) -> CachedToken | None:
        """A token that is not yet due for renewal, else ``None``."""
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.remaining(self.clock()) <= 0:
                del self._tokens[key]
                cached = None
            return cached

    def put(self, key: str, token: Token) -> CachedToken:
        now = self.clock()
        cached = CachedToken(token.value, now, now + token.lifetime - renew_margin(token.lifetime))
        with self._lock:
            if key not in self._tokens and len(self._tokens) >= MAX_ENTRIES:
                self._tokens.pop(next(iter(self._tokens)))
            self._tokens[key] = cached
        return cached

    def forget(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def method(self, key: str) -> ClientAuth | None:
        """The client authentication the endpoint last accepted for this grant."""
        return self._methods.get(key)

    def remember_method(self, key: str, method: ClientAuth) -> None:
        with self._lock:
            if key not in self._methods and len(self._methods) >= MAX_ENTRIES:
                self._methods.pop(next(iter(self._methods)))
            self._methods[key] = method
