"""API version 2 on the wire: secret objects, OAuth fields, the stored-secret rule, form
bodies, ETags and the audit; version 1 clients see something sensible."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from smtp_profile.runtime import Runtime
from tests.oauth.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    SMTP_PATH,
    TEST_PATH,
    oauth_body,
)
from tests.oauth.token_server import SCOPE

HIDDEN = {"SecretValue": None, "Provider": None, "Parameters": None}
ENDPOINT = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
V1 = {"X-Keyfactor-Api-Version": "1"}


def explicit_v2(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "Host": "smtp.example.test",
        "Port": 587,
        "UseSSL": True,
        "RelayAuthenticationType": 2,
        "RelayUsername": {"SecretValue": "CORP\\svc-mail"},
        "RelayPassword": {"SecretValue": "pw-v2-123456"},
        "SenderAccount": "alerts@example.test",
        "SenderName": "Alerts",
    }
    body.update(overrides)
    return body


def error(response: httpx.Response, code: str, field: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["ErrorCode"] == code, body
    assert field in body["Message"], body
    return body


async def test_default_profile_in_version_2(api: httpx.AsyncClient) -> None:
    body = (await api.get(SMTP_PATH)).json()
    assert body == {
        "Id": 1,
        "Host": None,
        "Port": 25,
        "RelayAuthenticationType": 0,
        "RelayUsername": None,
        "RelayPassword": None,
        "ClientId": None,
        "ClientSecret": None,
        "TokenEndpoint": None,
        "Scope": None,
        "Audience": None,
        "SenderAccount": None,
        "SenderName": None,
        "UseSSL": False,
        "HasPassword": False,
    }


@pytest.mark.parametrize("version", ["2", "2.0"])
async def test_put_returns_secret_objects_without_values(
    api: httpx.AsyncClient, version: str
) -> None:
    put = await api.put(SMTP_PATH, json=explicit_v2(), headers={"X-Keyfactor-Api-Version": version})
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["RelayUsername"] == body["RelayPassword"] == HIDDEN
    assert body["HasPassword"] is True and "pw-v2-123456" not in put.text
    assert "CORP" not in put.text  # no SecretValue is ever returned, the user name neither
    get = await api.get(SMTP_PATH)
    assert get.json() == body and get.headers["etag"] == put.headers["etag"]


async def test_version_1_view_of_version_2_data(api: httpx.AsyncClient) -> None:
    await api.put(SMTP_PATH, json=explicit_v2())
    v1 = (await api.get(SMTP_PATH, headers=V1)).json()
    assert v1["RelayUsername"] == "CORP\\svc-mail" and v1["HasPassword"] is True
    assert "ClientId" not in v1 and "RelayPassword" not in v1
    assert (await api.put(SMTP_PATH, json=oauth_body(587, ENDPOINT))).status_code == 200
    v1 = (await api.get(SMTP_PATH, headers=V1)).json()
    assert v1["RelayAuthenticationType"] == 3 and v1["HasPassword"] is False
    assert set(v1) == {
        "Id", "Host", "Port", "RelayAuthenticationType", "RelayUsername",
        "SenderAccount", "SenderName", "UseSSL", "HasPassword",
    }  # fmt: skip
    # A version 1 client that writes back what it read cannot wipe the OAuth settings.
    back = await api.put(SMTP_PATH, json=v1, headers=V1)
    error(back, "0xA0100016", "RelayAuthenticationType")
    assert "version 2" in back.json()["Message"]


async def test_round_trip_keeps_every_stored_secret(api: httpx.AsyncClient) -> None:
    await api.put(SMTP_PATH, json=oauth_body(587, ENDPOINT))
    read = (await api.get(SMTP_PATH)).json()
    again = await api.put(SMTP_PATH, json=read)
    assert again.status_code == 200, again.text
    assert again.json()["ClientSecret"] == again.json()["ClientId"] == HIDDEN


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"Host": "evil.example.test"}, "ClientId", id="host"),
        pytest.param({"Port": 2525}, "ClientId", id="port"),
        pytest.param(
            {"TokenEndpoint": "https://evil.example.test/token"}, "ClientId", id="endpoint"
        ),
        pytest.param({"ClientId": {"SecretValue": "other-app"}}, "ClientSecret", id="client-id"),
        pytest.param(
            {"ClientId": {"SecretValue": CLIENT_ID}, "TokenEndpoint": ENDPOINT.upper()},
            "ClientSecret",
            id="endpoint-path-case",
        ),
    ],
)
async def test_a_changed_destination_never_receives_the_stored_client_secret(
    api: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    await api.put(SMTP_PATH, json=oauth_body(587, ENDPOINT))
    body = {**oauth_body(587, ENDPOINT, ClientId=None, ClientSecret=None), **change}
    error(await api.put(SMTP_PATH, json=body), "0xA0100020", field)
    test = await api.post(TEST_PATH, json={**body, "TestRecipient": "a@example.test"})
    error(test, "0xA0100020", field)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"Scope": "https://outlook.office.com/.default"}, id="scope"),
        pytest.param({"TokenEndpoint": ENDPOINT.replace("login.", "LOGIN.")}, id="host-case"),
        pytest.param({"ClientId": {"SecretValue": CLIENT_ID}}, id="same-client-id-given"),
        pytest.param({"SenderName": "Other"}, id="sender-name"),
    ],
)
async def test_an_unchanged_destination_keeps_the_stored_client_secret(
    api: httpx.AsyncClient, change: dict[str, object]
) -> None:
    await api.put(SMTP_PATH, json=oauth_body(587, ENDPOINT))
    body = {**oauth_body(587, ENDPOINT, ClientId=None, ClientSecret=None), **change}
    kept = await api.put(SMTP_PATH, json=body)
    assert kept.status_code == 200, kept.text
    assert kept.json()["ClientSecret"] == HIDDEN


async def test_explicit_credentials_keep_rule_in_version_2(api: httpx.AsyncClient) -> None:
    await api.put(SMTP_PATH, json=explicit_v2())
    same = explicit_v2(RelayUsername=None, RelayPassword={"SecretValue": ""})
    assert (await api.put(SMTP_PATH, json=same)).status_code == 200
    moved = explicit_v2(Host="evil.example.test", RelayPassword=None)
    error(await api.put(SMTP_PATH, json=moved), "0xA0100020", "RelayPassword")
    no_user = explicit_v2(Host="evil.example.test", RelayUsername=None)
    error(await api.put(SMTP_PATH, json=no_user), "0xA0100020", "RelayUsername")
    other_user = explicit_v2(RelayUsername={"SecretValue": "other"}, RelayPassword=None)
    error(await api.put(SMTP_PATH, json=other_user), "0xA0100020", "RelayPassword")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param(
            {"RelayAuthenticationType": 4}, "0xA0100016", "RelayAuthenticationType", id="type-4"
        ),
        pytest.param({"RelayPassword": 5}, "0xA0100011", "RelayPassword", id="secret-not-object"),
        pytest.param(
            {"RelayPassword": {"SecretValue": "x", "Provider": 1, "Parameters": {"Name": "A"}}},
            "0xA0100016",
            "RelayPassword",
            id="value-and-provider",
        ),
        pytest.param(
            {"RelayPassword": {"Parameters": {"Name": "A"}}},
            "0xA0100016",
            "RelayPassword",
            id="parameters-alone",
        ),
        pytest.param(
            {"RelayPassword": {"Provider": 2}}, "0xA0100010", "RelayPassword", id="no-path"
        ),
        pytest.param(
            {"RelayPassword": {"Provider": 2, "Parameters": {"Path": 7}}},
            "0xA0100011",
            "RelayPassword",
            id="path-not-string",
        ),
        pytest.param(
            {"RelayPassword": {"SecretValue": "a\r\nb"}}, "0xA0100014", "RelayPassword", id="crlf"
        ),
        pytest.param(
            {"RelayPassword": {"Provider": True}}, "0xA0100011", "RelayPassword", id="bool-provider"
        ),
        pytest.param(
            {"RelayPassword": {"Provider": 9, "Parameters": {}}},
            "0xA0100017",
            "RelayPassword",
            id="unknown",
        ),
        pytest.param(
            {"RelayPassword": {"Provider": "Environment", "Parameters": {"Name": "HOME"}}},
            "0xA0100017",
            "RelayPassword",
            id="disabled",
        ),
    ],
)
async def test_bad_secret_objects(
    api: httpx.AsyncClient, body: dict[str, object], code: str, field: str
) -> None:
    error(await api.put(SMTP_PATH, json=explicit_v2(**body)), code, field)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        pytest.param({"TokenEndpoint": None}, "0xA0100010", "TokenEndpoint", id="no-endpoint"),
        pytest.param({"ClientId": None}, "0xA0100010", "ClientId", id="no-client-id"),
        pytest.param({"ClientSecret": None}, "0xA0100020", "ClientSecret", id="no-client-secret"),
        pytest.param({"Scope": "a\nb"}, "0xA0100014", "Scope", id="scope-newline"),
        pytest.param({"Audience": "x" * 1025}, "0xA0100015", "Audience", id="audience-long"),
        pytest.param(
            {"ClientId": {"SecretValue": " spaced"}}, "0xA0100013", "ClientId", id="client-id-space"
        ),
    ],
)
async def test_bad_oauth_fields(
    api: httpx.AsyncClient, change: dict[str, object], code: str, field: str
) -> None:
    error(await api.put(SMTP_PATH, json=oauth_body(587, ENDPOINT, **change)), code, field)


async def test_nested_names_match_in_any_case_and_once(api: httpx.AsyncClient) -> None:
    body = explicit_v2()
    body["relayPassword"] = {"secretvalue": "pw-lower-1"}
    del body["RelayPassword"]
    assert (await api.put(SMTP_PATH, json=body)).status_code == 200
    raw = json.dumps(explicit_v2())[:-1] + ', "RelayPassword2": 1}'
    assert (
        await api.put(SMTP_PATH, content=raw, headers={"content-type": "application/json"})
    ).status_code == 200
    twice = (
        b'{"Host": "h.example.test", "SenderAccount": "a@example.test", "SenderName": "A", '
        b'"RelayAuthenticationType": 2, "RelayUsername": "u", '
        b'"RelayPassword": {"SecretValue": "a", "secretValue": "b"}}'
    )
    error(
        await api.put(SMTP_PATH, content=twice, headers={"content-type": "application/json"}),
        "0xA0100004",
        "SecretValue",
    )


async def test_form_bodies_write_nested_members_with_dots(
    api: httpx.AsyncClient, oauth_runtime: Runtime
) -> None:
    form = {
        "Host": "smtp.example.test",
        "Port": "587",
        "UseSSL": "true",
        "RelayAuthenticationType": "3",
        "ClientId.SecretValue": CLIENT_ID,
        "clientsecret": CLIENT_SECRET,  # a plain value is short for SecretValue
        "TokenEndpoint": ENDPOINT,
        "Scope": SCOPE,
        "RelayUsername.Provider": "",  # empty means not set, as everywhere in forms
        "SenderAccount": "alerts@example.test",
        "SenderName": "Alerts",
    }
    put = await api.put(SMTP_PATH, data=form)
    assert put.status_code == 200, put.text
    assert put.json()["ClientSecret"] == HIDDEN and put.json()["TokenEndpoint"] == ENDPOINT
    clash = await api.put(SMTP_PATH, data={**form, "ClientSecret.SecretValue": "x"})
    error(clash, "0xA0100004", "ClientSecret")


async def test_if_match_works_across_versions(api: httpx.AsyncClient) -> None:
    first = await api.put(SMTP_PATH, json=explicit_v2())
    etag = first.headers["etag"]
    assert (await api.get(SMTP_PATH, headers=V1)).headers["etag"] == etag
    ok = await api.put(SMTP_PATH, json=explicit_v2(SenderName="B"), headers={"If-Match": etag})
    assert ok.status_code == 200
    stale = await api.put(SMTP_PATH, json=explicit_v2(SenderName="C"), headers={"If-Match": etag})
    assert stale.status_code == 412


async def test_audit_shows_secrets_only_as_changed_and_references_in_full(
    api: httpx.AsyncClient,
) -> None:
    await api.put(SMTP_PATH, json=oauth_body(587, ENDPOINT))
    await api.put(
        SMTP_PATH, json=oauth_body(587, ENDPOINT, ClientSecret={"SecretValue": "second-secret-2"})
    )
    items = (await api.get("/KeyfactorAPI/Audit?Operation=put")).json()["Items"]
    latest = {c["Field"]: (c["Before"], c["After"]) for c in items[0]["Changes"]}
    first = {c["Field"]: (c["Before"], c["After"]) for c in items[1]["Changes"]}
    assert latest == {"ClientSecret": ("set", "changed")}
    assert first["ClientSecret"] == (None, "changed") and first["ClientId"] == (None, "changed")
    assert first["TokenEndpoint"] == (None, ENDPOINT) and first["Scope"] == (None, SCOPE)
    text = json.dumps(items)
    assert CLIENT_SECRET not in text and "second-secret-2" not in text and CLIENT_ID not in text


async def test_a_version_1_put_clears_the_oauth_settings(api: httpx.AsyncClient) -> None:
    await api.put(SMTP_PATH, json=oauth_body(587, ENDPOINT))
    v1_body = {"Host": "smtp.example.test", "SenderAccount": "a@example.test", "SenderName": "A"}
    assert (await api.put(SMTP_PATH, json=v1_body, headers=V1)).status_code == 200
    v2 = (await api.get(SMTP_PATH)).json()
    assert v2["RelayAuthenticationType"] == 0
    assert v2["ClientId"] is v2["ClientSecret"] is v2["TokenEndpoint"] is v2["Scope"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"RelayPassword": {"SecretValue": "pw-123456"}},
        {"ClientSecret": "ignored", "TokenEndpoint": "ignored", "RelayPassword": "pw-123456"},
    ],
)
async def test_version_1_is_unchanged(api: httpx.AsyncClient, body: dict[str, object]) -> None:
    v1_body = {
        "Host": "smtp.example.test",
        "RelayAuthenticationType": 2,
        "RelayUsername": "svc",
        "SenderAccount": "a@example.test",
        "SenderName": "A",
        **body,
    }
    response = await api.put(SMTP_PATH, json=v1_body, headers=V1)
    if isinstance(body["RelayPassword"], dict):
        error(response, "0xA0100011", "RelayPassword")  # a version 1 password is a string
    else:
        assert response.status_code == 200, response.text
        assert "ClientSecret" not in response.json() and response.json()["RelayUsername"] == "svc"
