"""The SMTP profile, API version 1: what a valid one is, how a request becomes one, how
it is shown.

Pure code: no HTTP, no database, no sockets. The API, the web page and the CLI
all go through these functions, so the rules cannot drift apart. Version 2 (secret
objects, OAuth) is :mod:`smtp_profile.profile_v2`; both share the rules here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from smtp_profile import rules
from smtp_profile.errors import InvalidField
from smtp_profile.profile_model import (
    DEFAULT_PORT,
    DEFAULT_SETTINGS,
    PROFILE_ID,
    AuthType,
    ProfileRequest,
    ProfileSettings,
    TestRequest,
)
from smtp_profile.secret import Secret
from smtp_profile.secret_plan import PasswordPlan, plan_password, same_destination

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SETTINGS",
    "PROFILE_FIELDS",
    "PROFILE_ID",
    "TEST_FIELDS",
    "AuthType",
    "PasswordPlan",
    "ProfileRequest",
    "ProfileSettings",
    "TestRequest",
    "destination",
    "parse_profile_request",
    "parse_test_request",
    "plan_password",
    "profile_view",
    "required_text",
    "same_destination",
    "sender",
    "with_settings",
]

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


def parse_profile_request(fields: Mapping[str, object]) -> ProfileRequest:
    """Validate a PUT body whose keys are already canonical PascalCase names."""
    host, port = destination(fields)
    auth_type = parse_auth_type(fields.get("RelayAuthenticationType"), version=1)
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
    settings = replace(sender(fields, host, port, auth_type), username=username)
    password = Secret(password_text) if password_text is not None else None
    return ProfileRequest(settings=settings, password=password)


def destination(fields: Mapping[str, object]) -> tuple[str, int]:
    """``Id``, ``Host`` and ``Port``: checked first, in both versions."""
    _check_id(fields.get("Id"))
    host = required_text(fields, "Host")
    rules.check_host("Host", host)
    port = rules.coerce_int("Port", fields.get("Port"))
    return host, rules.check_port("Port", DEFAULT_PORT if port is None else port)


def sender(
    fields: Mapping[str, object], host: str, port: int, auth_type: AuthType
) -> ProfileSettings:
    """The settings without secrets: the destination and the sender fields (checked after
    the authentication fields, in the order the page shows them)."""
    sender_account = required_text(fields, "SenderAccount")
    rules.check_address("SenderAccount", sender_account)
    sender_name = required_text(fields, "SenderName")
    rules.check_display_name("SenderName", sender_name)
    use_ssl = rules.coerce_bool("UseSSL", fields.get("UseSSL"))
    return ProfileSettings(
        host=host,
        port=port,
        auth_type=auth_type,
        sender_account=sender_account,
        sender_name=sender_name,
        use_ssl=bool(use_ssl),
    )


def parse_test_request(fields: Mapping[str, object]) -> TestRequest:
    """Validate a Test body: a profile plus one bare ``TestRecipient`` address."""
    return test_request(parse_profile_request(fields), fields)


def test_request(profile: ProfileRequest, fields: Mapping[str, object]) -> TestRequest:
    recipient = required_text(fields, "TestRecipient")
    rules.check_address("TestRecipient", recipient)
    return TestRequest(profile=profile, recipient=recipient)


def _check_id(value: object) -> None:
    profile_id = rules.coerce_int("Id", value)
    if profile_id is not None and profile_id != PROFILE_ID:
        raise InvalidField("Id", "value", f"Id must be {PROFILE_ID}: there is one profile.")


def required_text(fields: Mapping[str, object], name: str) -> str:
    value = rules.coerce_text(name, fields.get(name))
    if value is None:
        raise InvalidField(name, "required", f"{name} is required.")
    return value


def parse_auth_type(value: object, *, version: int) -> AuthType:
    number = rules.coerce_int("RelayAuthenticationType", value)
    if number is None:
        return AuthType.ANONYMOUS
    if number == AuthType.OAUTH and version < 2:
        raise InvalidField(
            "RelayAuthenticationType",
            "value",
            "RelayAuthenticationType 3 (OAuth 2.0 client credentials) needs API version 2: "
            "send the header X-Keyfactor-Api-Version: 2.",
        )
    try:
        return AuthType(number)
    except ValueError:
        allowed = (
            "0 (anonymous), 1 (integrated), 2 (explicit) or 3 (OAuth 2.0 client credentials)"
            if version >= 2
            else "0 (anonymous), 1 (integrated) or 2 (explicit)"
        )
        raise InvalidField(
            "RelayAuthenticationType", "value", f"RelayAuthenticationType must be {allowed}."
        ) from None


def profile_view(settings: ProfileSettings, *, has_password: bool) -> dict[str, Any]:
    """The version 1 body: never a password, only whether one is stored (or referenced).

    A user name read from a reference shows as ``null``; type 3 shows as 3 (a version 1
    client that writes it back gets a 400 saying version 2 is needed, so it cannot wipe
    the OAuth settings by accident).
    """
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
