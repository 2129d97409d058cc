"""The SMTP profile, API version 2: secret objects and OAuth 2.0 client credentials. Pure.

``RelayUsername``, ``RelayPassword``, ``ClientId`` and ``ClientSecret`` are secret objects
(:mod:`smtp_profile.secretref`): a value, or a reference resolved when used. Responses
never carry a ``SecretValue``; they show the object with ``SecretValue`` null (and the
reference, which is not secret), or ``null`` when nothing is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from smtp_profile import rules
from smtp_profile.errors import InvalidField
from smtp_profile.profile import (
    PROFILE_FIELDS,
    destination,
    parse_auth_type,
    sender,
    test_request,
)
from smtp_profile.profile_model import (
    PROFILE_ID,
    AuthType,
    ProfileRequest,
    ProfileSettings,
    TestRequest,
)
from smtp_profile.secretref import SecretSpec, parse_secret, secret_view

OAUTH_FIELDS = ("ClientId", "ClientSecret", "TokenEndpoint", "Scope", "Audience")
PROFILE_FIELDS_V2 = (*PROFILE_FIELDS, *OAUTH_FIELDS)
TEST_FIELDS_V2 = (*PROFILE_FIELDS_V2, "TestRecipient")


def parse_profile_request_v2(fields: Mapping[str, object]) -> ProfileRequest:
    """Validate a version 2 PUT body (canonical PascalCase keys)."""
    host, port = destination(fields)
    auth_type = parse_auth_type(fields.get("RelayAuthenticationType"), version=2)
    username = password = client_id = client_secret = SecretSpec()
    oauth: dict[str, str | None] = {}
    if auth_type in (AuthType.EXPLICIT, AuthType.OAUTH):
        username = _identifier(fields, "RelayUsername")
    if auth_type is AuthType.EXPLICIT:
        password = _credential(fields, "RelayPassword")
    if auth_type is AuthType.OAUTH:
        client_id = _identifier(fields, "ClientId")
        client_secret = _credential(fields, "ClientSecret")
        oauth = _oauth_fields(fields)
    settings = replace(
        sender(fields, host, port, auth_type),
        username=username.value.reveal() if username.value else None,
        username_ref=username.ref,
        password_ref=password.ref,
        client_id=client_id.value.reveal() if client_id.value else None,
        client_id_ref=client_id.ref,
        client_secret_ref=client_secret.ref,
        token_endpoint=oauth.get("TokenEndpoint"),
        scope=oauth.get("Scope"),
        audience=oauth.get("Audience"),
    )
    return ProfileRequest(
        settings=settings, password=password.value, client_secret=client_secret.value
    )


def parse_test_request_v2(fields: Mapping[str, object]) -> TestRequest:
    return test_request(parse_profile_request_v2(fields), fields)


def _identifier(fields: Mapping[str, object], name: str) -> SecretSpec:
    spec = parse_secret(name, fields.get(name))
    if spec.value is not None:
        rules.check_identifier(name, spec.value.reveal())
    return spec


def _credential(fields: Mapping[str, object], name: str) -> SecretSpec:
    spec = parse_secret(name, fields.get(name))
    if spec.value is not None:
        rules.check_password(name, spec.value.reveal())
    return spec


def _oauth_fields(fields: Mapping[str, object]) -> dict[str, str | None]:
    endpoint = rules.coerce_text("TokenEndpoint", fields.get("TokenEndpoint"))
    if endpoint is None:
        raise InvalidField(
            "TokenEndpoint",
            "required",
            "TokenEndpoint is required when RelayAuthenticationType is 3.",
        )
    rules.check_token_endpoint("TokenEndpoint", endpoint)
    found: dict[str, str | None] = {"TokenEndpoint": endpoint}
    for name in ("Scope", "Audience"):
        value = rules.coerce_text(name, fields.get(name))
        found[name] = rules.check_text_line(name, value) if value is not None else None
    return found


def profile_view_v2(
    settings: ProfileSettings, *, has_password: bool, has_client_secret: bool
) -> dict[str, Any]:
    """The version 2 body: secret objects without values, OAuth fields, and (ours)
    ``HasPassword``, whether a password is stored or referenced."""
    return {
        "Id": PROFILE_ID,
        "Host": settings.host,
        "Port": settings.port,
        "RelayAuthenticationType": int(settings.auth_type),
        "RelayUsername": secret_view(settings.username is not None, settings.username_ref),
        "RelayPassword": secret_view(has_password, settings.password_ref),
        "ClientId": secret_view(settings.client_id is not None, settings.client_id_ref),
        "ClientSecret": secret_view(has_client_secret, settings.client_secret_ref),
        "TokenEndpoint": settings.token_endpoint,
        "Scope": settings.scope,
        "Audience": settings.audience,
        "SenderAccount": settings.sender_account,
        "SenderName": settings.sender_name,
        "UseSSL": settings.use_ssl,
        "HasPassword": has_password or settings.password_ref is not None,
    }


def request_view_v2(request: ProfileRequest) -> dict[str, Any]:
    """A version 2 Test echo: the request as given, secrets without values."""
    view = profile_view_v2(
        request.settings,
        has_password=request.password is not None,
        has_client_secret=request.client_secret is not None,
    )
    view.pop("HasPassword")
    return view
