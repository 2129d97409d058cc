"""The SMTP profile as values: settings, what a request carries, a Test. Pure data.

Secrets never live in :class:`ProfileSettings`: the password and the client secret
travel as :class:`~smtp_profile.secret.Secret` values beside it. References to secrets
(where a secret is read from) and the identifiers (user name, client ID) are settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from smtp_profile.secret import Secret
from smtp_profile.secretref import SecretRef

PROFILE_ID = 1
DEFAULT_PORT = 25


class AuthType(IntEnum):
    """``RelayAuthenticationType``: how the service logs in to the relay."""

    ANONYMOUS = 0
    INTEGRATED = 1
    EXPLICIT = 2
    OAUTH = 3  # OAuth 2.0 client credentials, SASL XOAUTH2 / OAUTHBEARER (API version 2)


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """Everything about the profile except the secret values themselves."""

    host: str | None = None
    port: int = DEFAULT_PORT
    auth_type: AuthType = AuthType.ANONYMOUS
    username: str | None = None  # a stored user name (None: none, or a reference)
    sender_account: str | None = None
    sender_name: str | None = None
    use_ssl: bool = False
    username_ref: SecretRef | None = None
    password_ref: SecretRef | None = None
    client_id: str | None = None
    client_id_ref: SecretRef | None = None
    client_secret_ref: SecretRef | None = None
    token_endpoint: str | None = None
    scope: str | None = None
    audience: str | None = None


DEFAULT_SETTINGS = ProfileSettings()


@dataclass(frozen=True, slots=True)
class ProfileRequest:
    """A validated PUT or Test body; a secret left out is ``None`` (a stored one may be
    kept, see :mod:`smtp_profile.secret_plan`)."""

    settings: ProfileSettings
    password: Secret | None
    client_secret: Secret | None = None


@dataclass(frozen=True, slots=True)
class TestRequest:
    profile: ProfileRequest
    recipient: str
