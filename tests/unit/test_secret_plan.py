"""The stored-secret rule of version 2 (spec §5 extended): a secret left out is kept only
when what it protects is unchanged. Pure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smtp_profile.errors import InvalidField, StoredSecretNotReusable
from smtp_profile.profile_model import AuthType, ProfileRequest, ProfileSettings
from smtp_profile.secret import Secret
from smtp_profile.secret_plan import StoredSecrets, plan_secrets
from smtp_profile.secretref import SecretRef

ENDPOINT = "https://login.example.test/t/oauth2/v2.0/token"
FILE_REF = SecretRef("file", (("Path", "/run/secrets/pw"),))
OAUTH = ProfileSettings(
    host="smtp.example.test",
    port=587,
    auth_type=AuthType.OAUTH,
    username="box@example.test",
    client_id="app",
    token_endpoint=ENDPOINT,
    scope="s",
    sender_account="a@example.test",
    sender_name="A",
)
STORED_OAUTH = StoredSecrets(OAUTH, has_client_secret=True)
EXPLICIT = replace(
    OAUTH, auth_type=AuthType.EXPLICIT, username="svc", client_id=None, token_endpoint=None
)


def request(settings: ProfileSettings, **secrets: Secret | None) -> ProfileRequest:
    return ProfileRequest(
        settings=settings,
        password=secrets.get("password"),
        client_secret=secrets.get("client_secret"),
    )


def left_out(settings: ProfileSettings, **changes: object) -> ProfileSettings:
    values: dict[str, object] = {"username": None, "client_id": None, **changes}
    return replace(settings, **values)  # type: ignore[arg-type]


def test_everything_left_out_keeps_everything_for_the_same_destination() -> None:
    plan = plan_secrets(request(left_out(OAUTH, scope="other")), STORED_OAUTH)
    assert plan.keep_client_secret and plan.client_secret is None
    assert (plan.settings.username, plan.settings.client_id) == ("box@example.test", "app")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"host": "evil.example.test"}, "ClientId"),
        ({"port": 25}, "ClientId"),
        ({"token_endpoint": "https://evil.example.test/token"}, "ClientId"),
        ({"client_id": "other-app"}, "ClientSecret"),
        ({"client_id_ref": SecretRef("environment", (("Name", "APP_ID"),))}, "ClientSecret"),
    ],
)
def test_changed_destination_needs_the_client_secret_again(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(StoredSecretNotReusable) as caught:
        plan_secrets(request(left_out(OAUTH, **changes)), STORED_OAUTH)
    assert caught.value.field == field


def test_a_given_client_secret_or_reference_needs_nothing_stored() -> None:
    settings = left_out(OAUTH, host="new.example.test", client_id="app")
    plan = plan_secrets(request(settings, client_secret=Secret("new")), StoredSecrets(OAUTH))
    assert plan.client_secret == Secret("new") and not plan.keep_client_secret
    by_ref = replace(settings, client_secret_ref=FILE_REF)
    assert (
        plan_secrets(request(by_ref), StoredSecrets(OAUTH)).settings.client_secret_ref == FILE_REF
    )


def test_stored_references_are_kept_like_stored_values() -> None:
    stored = StoredSecrets(replace(OAUTH, client_secret_ref=FILE_REF))
    plan = plan_secrets(request(left_out(OAUTH)), stored)
    assert plan.settings.client_secret_ref == FILE_REF and not plan.keep_client_secret
    with pytest.raises(StoredSecretNotReusable):
        plan_secrets(request(left_out(OAUTH, host="evil.example.test")), stored)


def test_oauth_without_any_client() -> None:
    with pytest.raises(InvalidField) as caught:
        plan_secrets(request(left_out(OAUTH)), StoredSecrets(EXPLICIT, has_password=True))
    assert caught.value.field == "ClientId" and caught.value.rule == "required"


def test_a_type_2_user_name_is_not_carried_into_type_3() -> None:
    plan = plan_secrets(
        request(left_out(OAUTH, client_id="app"), client_secret=Secret("c")),
        StoredSecrets(EXPLICIT, has_password=True),
    )
    assert plan.settings.username is None  # the mailbox is then SenderAccount


def test_explicit_password_reference_kept_only_for_the_same_user() -> None:
    stored = StoredSecrets(replace(EXPLICIT, password_ref=FILE_REF))
    same = plan_secrets(request(replace(EXPLICIT)), stored)
    assert same.settings.password_ref == FILE_REF
    with pytest.raises(StoredSecretNotReusable) as caught:
        plan_secrets(request(replace(EXPLICIT, username="other")), stored)
    assert caught.value.field == "RelayPassword"


def test_explicit_user_name_left_out() -> None:
    stored = StoredSecrets(EXPLICIT, has_password=True)
    kept = plan_secrets(request(replace(EXPLICIT, username=None)), stored)
    assert kept.settings.username == "svc" and kept.keep_password
    with pytest.raises(StoredSecretNotReusable) as caught:
        plan_secrets(request(replace(EXPLICIT, username=None, host="evil.example.test")), stored)
    assert caught.value.field == "RelayUsername"
    with pytest.raises(InvalidField) as missing:
        plan_secrets(request(replace(EXPLICIT, username=None)), StoredSecrets(OAUTH))
    assert (missing.value.field, missing.value.rule) == ("RelayUsername", "required")


@pytest.mark.parametrize("auth_type", [AuthType.ANONYMOUS, AuthType.INTEGRATED])
def test_types_0_and_1_keep_nothing(auth_type: AuthType) -> None:
    settings = ProfileSettings(host="h.example.test", auth_type=auth_type)
    plan = plan_secrets(request(settings), STORED_OAUTH)
    assert plan.settings == settings and not plan.keep_client_secret and not plan.keep_password
