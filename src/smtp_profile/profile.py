"""The SMTP profile: what a valid one is, how a request becomes one, how it is shown.

Pure code: no HTTP, no database, no sockets. The API, the web page and the CLI
all go through these functions, so the rules cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from smtp_profile import rules
from smtp_profile.errors import InvalidField, StoredPasswordNotReusable
from smtp_profile.secret import Secret

PROFILE_ID = 1
DEFAULT_PORT = 25

PROFILE_FIELDS = (
    "Id",
    "Host",
    "Port",
    "RelayAuthenticationType",
    "RelayUsername",
    "RelayPassword",
    "SenderAccount",
    "SenderName",
    "UseSSL",
)
TEST_FIELDS = (*PROFILE_FIELDS, "TestRecipient")


class AuthType(IntEnum):
    """``RelayAuthenticationType``: how the service logs in to the relay."""

    ANONYMOUS = 0
    INTEGRATED = 1
    EXPLICIT = 2


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """Everything about the profile except its secret."""

    host: str | None = None
    port: int = DEFAULT_PORT
    auth_type: AuthType = AuthType.ANONYMOUS
    username: str | None = None
    sender_account: str | None = None
    sender_name: str | None = None
    use_ssl: bool = False


DEFAULT_SETTINGS = ProfileSettings()


@dataclass(frozen=True, slots=True)
class ProfileRequest:
    """A validated PUT or Test body; ``password`` is ``None`` when left out."""

    settings: ProfileSettings
    password: Secret | None


@dataclass(frozen=True, slots=True)
class TestRequest:
    profile: ProfileRequest
    recipient: str


def parse_profile_request(fields: Mapping[str, object]) -> ProfileRequest:
    """Validate a PUT body whose keys are already canonical PascalCase names."""
    _check_id(fields.get("Id"))
    host = _required_text(fields, "Host")
    rules.check_host("Host", host)
    port = rules.coerce_int("Port", fields.get("Port"))
    port = rules.check_port("Port", DEFAULT_PORT if port is None else port)
    auth_type = _auth_type(fields.get("RelayAuthenticationType"))
    username = rules.coerce_text("RelayUsername", fields.get("RelayUsername"))
    password_text = rules.coerce_text("RelayPassword", fields.get("RelayPassword"))
    if auth_type is AuthType.EXPLICIT:
        if username is None:
            raise InvalidField(
                "RelayUsername",
                "required",
                "RelayUsername is required when RelayAuthenticationType is 2.",
            )
        rules.check_username("RelayUsername", username)
        if password_text is not None:
            rules.check_password("RelayPassword", password_text)
    else:
        username = None
        password_text = None
    sender_account = _required_text(fields, "SenderAccount")
    rules.check_address("SenderAccount", sender_account)
    sender_name = _required_text(fields, "SenderName")
    rules.check_display_name("SenderName", sender_name)
    use_ssl = rules.coerce_bool("UseSSL", fields.get("UseSSL"))
    settings = ProfileSettings(
        host=host,
        port=port,
        auth_type=auth_type,
        username=username,
        sender_account=sender_account,
        sender_name=sender_name,
        use_ssl=bool(use_ssl),
    )
    password = Secret(password_text) if password_text is not None else None
    return ProfileRequest(settings=settings, password=password)


def parse_test_request(fields: Mapping[str, object]) -> TestRequest:
    """Validate a Test body: a profile plus one bare ``TestRecipient`` address."""
    profile = parse_profile_request(fields)
    recipient = _required_text(fields, "TestRecipient")
    rules.check_address("TestRecipient", recipient)
    return TestRequest(profile=profile, recipient=recipient)


def _check_id(value: object) -> None:
    profile_id = rules.coerce_int("Id", value)
    if profile_id is not None and profile_id != PROFILE_ID:
        raise InvalidField("Id", "value", f"Id must be {PROFILE_ID}: there is one profile.")


def _required_text(fields: Mapping[str, object], name: str) -> str:
    value = rules.coerce_text(name, fields.get(name))
    if value is None:
        raise InvalidField(name, "required", f"{name} is required.")
    return value


def _auth_type(value: object) -> AuthType:
    number = rules.coerce_int("RelayAuthenticationType", value)
    if number is None:
        return AuthType.ANONYMOUS
    try:
        return AuthType(number)
    except ValueError:
        raise InvalidField(
            "RelayAuthenticationType",
            "value",
            "RelayAuthenticationType must be 0 (anonymous), 1 (integrated) or 2 (explicit).",
        ) from None


def same_destination(a: ProfileSettings, b: ProfileSettings) -> bool:
    """Host (ignoring case), Port and RelayUsername all unchanged (spec §5)."""
    return (
        (a.host or "").lower() == (b.host or "").lower()
        and a.port == b.port
        and a.username == b.username
    )


@dataclass(frozen=True, slots=True)
class PasswordPlan:
    """What a write does to the stored password."""

    keep_stored: bool
    new_password: Secret | None

    @property
    def clears(self) -> bool:
        return not self.keep_stored and self.new_password is None


def plan_password(
    request: ProfileRequest, stored: ProfileSettings, *, has_stored_password: bool
) -> PasswordPlan:
    """Decide whether a write keeps, replaces or erases the stored password.

    A missing password may reuse the stored one only when the destination is
    unchanged: a changed host must never receive the stored password.
    """
    if request.settings.auth_type is not AuthType.EXPLICIT:
        return PasswordPlan(keep_stored=False, new_password=None)
    if request.password is not None:
        return PasswordPlan(keep_stored=False, new_password=request.password)
    if not has_stored_password:
        raise StoredPasswordNotReusable(
            "RelayPassword is required when RelayAuthenticationType is 2 and no password is stored."
        )
    if stored.auth_type is not AuthType.EXPLICIT or not same_destination(request.settings, stored):
        raise StoredPasswordNotReusable(
            "RelayPassword is required: Host, Port or RelayUsername changed, "
            "so the stored password is not sent to the new destination."
        )
    return PasswordPlan(keep_stored=True, new_password=None)


def profile_view(settings: ProfileSettings, *, has_password: bool) -> dict[str, Any]:
    """The PascalCase response body: never a password, only whether one is stored."""
    return {
        "Id": PROFILE_ID,
        "Host": settings.host,
        "Port": settings.port,
        "RelayAuthenticationType": int(settings.auth_type),
        "RelayUsername": settings.username,
        "SenderAccount": settings.sender_account,
        "SenderName": settings.sender_name,
        "UseSSL": settings.use_ssl,
        "HasPassword": has_password,
    }


def with_settings(request: ProfileRequest, settings: ProfileSettings) -> ProfileRequest:
    return replace(request, settings=settings)
