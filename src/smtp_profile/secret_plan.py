"""Which secrets a write (PUT) or a Test uses: given ones, or stored ones that may be
kept. Pure.

A secret left out keeps the stored one only when what it protects is unchanged, so a
changed destination never receives a stored secret (spec §5, extended to version 2):

| Secret | kept only when unchanged |
|---|---|
| RelayUsername | Host, Port (and the same RelayAuthenticationType) |
| RelayPassword | Host, Port, RelayUsername |
| ClientId | Host, Port, TokenEndpoint |
| ClientSecret | Host, Port, TokenEndpoint, ClientId |

Host and Port guard the OAuth secrets too: the token obtained with them is a bearer
credential that goes to the relay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from smtp_profile import rules
from smtp_profile.errors import InvalidField, StoredSecretNotReusable
from smtp_profile.profile_model import AuthType, ProfileRequest, ProfileSettings
from smtp_profile.secret import Secret


@dataclass(frozen=True, slots=True)
class StoredSecrets:
    """The stored profile as the rule sees it: its settings and which values it holds."""

    settings: ProfileSettings
    has_password: bool = False
    has_client_secret: bool = False


@dataclass(frozen=True, slots=True)
class SecretPlan:
    """``settings``: what is stored or tested (kept identifiers and references filled in).
    A new value, or ``keep_*``: reuse the stored encrypted value; neither: none."""

    settings: ProfileSettings
    password: Secret | None = None
    keep_password: bool = False
    client_secret: Secret | None = None
    keep_client_secret: bool = False


def same_relay(a: ProfileSettings, b: ProfileSettings) -> bool:
    return (a.host or "").lower() == (b.host or "").lower() and a.port == b.port


def same_destination(a: ProfileSettings, b: ProfileSettings) -> bool:
    """Host (ignoring case), Port and RelayUsername all unchanged (spec §5)."""
    return same_relay(a, b) and a.username == b.username and a.username_ref == b.username_ref


def same_token_destination(a: ProfileSettings, b: ProfileSettings) -> bool:
    return same_relay(a, b) and rules.endpoint_identity(a.token_endpoint) == (
        rules.endpoint_identity(b.token_endpoint)
    )


def plan_secrets(request: ProfileRequest, stored: StoredSecrets) -> SecretPlan:
    settings = request.settings
    if settings.auth_type is AuthType.EXPLICIT:
        settings = _username(settings, stored.settings, required=True)
        return _explicit(request, settings, stored)
    if settings.auth_type is AuthType.OAUTH:
        settings = _username(settings, stored.settings, required=False)
        return _oauth(request, settings, stored)
    return SecretPlan(settings=settings)


def _username(
    settings: ProfileSettings, stored: ProfileSettings, *, required: bool
) -> ProfileSettings:
    """A user name left out keeps the stored one of the same type for the same Host and
    Port; else it is required (type 2) or none (type 3: the mailbox is SenderAccount)."""
    if settings.username is not None or settings.username_ref is not None:
        return settings
    has_stored = stored.username is not None or stored.username_ref is not None
    if has_stored and stored.auth_type is settings.auth_type and same_relay(settings, stored):
        return replace(settings, username=stored.username, username_ref=stored.username_ref)
    if required and has_stored and stored.auth_type is settings.auth_type:
        raise StoredSecretNotReusable(
            "RelayUsername is required: Host or Port changed, so the stored user name is "
            "not used for the new destination.",
            field="RelayUsername",
        )
    if required:
        raise InvalidField(
            "RelayUsername",
            "required",
            "RelayUsername is required when RelayAuthenticationType is 2.",
        )
    return settings


def _explicit(
    request: ProfileRequest, settings: ProfileSettings, stored: StoredSecrets
) -> SecretPlan:
    if request.password is not None or settings.password_ref is not None:
        return SecretPlan(settings=settings, password=request.password)
    before = stored.settings
    if not stored.has_password and before.password_ref is None:
        raise StoredSecretNotReusable(
            "RelayPassword is required when RelayAuthenticationType is 2 and no password is stored."
        )
    if before.auth_type is not AuthType.EXPLICIT or not same_destination(settings, before):
        raise StoredSecretNotReusable(
            "RelayPassword is required: Host, Port or RelayUsername changed, "
            "so the stored password is not sent to the new destination."
        )
    return SecretPlan(
        settings=replace(settings, password_ref=before.password_ref),
        keep_password=stored.has_password,
    )


def _oauth(request: ProfileRequest, settings: ProfileSettings, stored: StoredSecrets) -> SecretPlan:
    before = stored.settings
    was_oauth = before.auth_type is AuthType.OAUTH
    if settings.client_id is None and settings.client_id_ref is None:
        if before.client_id is None and before.client_id_ref is None:
            raise InvalidField(
                "ClientId", "required", "ClientId is required when RelayAuthenticationType is 3."
            )
        if not was_oauth or not same_token_destination(settings, before):
            raise StoredSecretNotReusable(
                "ClientId is required: Host, Port or TokenEndpoint changed, so the stored "
                "client ID is not used for the new destination.",
                field="ClientId",
            )
        settings = replace(settings, client_id=before.client_id, client_id_ref=before.client_id_ref)
    if request.client_secret is not None or settings.client_secret_ref is not None:
        return SecretPlan(settings=settings, client_secret=request.client_secret)
    if not stored.has_client_secret and before.client_secret_ref is None:
        raise StoredSecretNotReusable(
            "ClientSecret is required when RelayAuthenticationType is 3 and no client secret "
            "is stored.",
            field="ClientSecret",
        )
    same_client = (settings.client_id, settings.client_id_ref) == (
        before.client_id,
        before.client_id_ref,
    )
    if not was_oauth or not same_token_destination(settings, before) or not same_client:
        raise StoredSecretNotReusable(
            "ClientSecret is required: Host, Port, TokenEndpoint or ClientId changed, so the "
            "stored client secret is not sent to the new destination.",
            field="ClientSecret",
        )
    return SecretPlan(
        settings=replace(settings, client_secret_ref=before.client_secret_ref),
        keep_client_secret=stored.has_client_secret,
    )


@dataclass(frozen=True, slots=True)
class PasswordPlan:
    """What a write does to the stored password (the version 1 view of a plan)."""

    keep_stored: bool
    new_password: Secret | None

    @property
    def clears(self) -> bool:
        return not self.keep_stored and self.new_password is None


def plan_password(
    request: ProfileRequest, stored: ProfileSettings, *, has_stored_password: bool
) -> PasswordPlan:
    """Keep, replace or erase the stored password (a changed host never receives it)."""
    plan = plan_secrets(request, StoredSecrets(stored, has_password=has_stored_password))
    return PasswordPlan(keep_stored=plan.keep_password, new_password=plan.password)
