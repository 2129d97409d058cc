"""The wire contract of spec §1-§3: paths, headers, encodings, status codes, error body."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import profile_body

ERROR_CODE = re.compile(r"^0xA0[0-9A-F]{6}$")


def assert_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert ERROR_CODE.match(body["ErrorCode"]), body
    assert isinstance(body["Message"], str) and body["Message"]
    return body


@pytest.mark.parametrize("path", ["/KeyfactorAPI/SMTP", "/keyfactorapi/smtp", "/KeyfactorApi/Smtp"])
async def test_paths_match_case_insensitively(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


async def test_put_returns_the_stored_profile_and_get_reads_it_back(
    client: httpx.AsyncClient,
) -> None:
    body = profile_body(
        587,
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername="CORP\\svc-mail",
        RelayPassword="pw-1234567",
    )
    put = await client.put("/KeyfactorAPI/SMTP", json=body)
    assert put.status_code == 200, put.text
    expected = {
        "Id": 1,
        "Host": "127.0.0.1",
        "Port": 587,
        "RelayAuthenticationType": 2,
        "RelayUsername": "CORP\\svc-mail",
        "SenderAccount": "alerts@example.test",
        "SenderName": "Certificate Alerts",
        "UseSSL": True,
        "HasPassword": True,
    }
    assert put.json() == expected
    get = await client.get("/KeyfactorAPI/SMTP")
    assert get.json() == expected
    assert "RelayPassword" not in get.json()
    assert get.headers["etag"] == put.headers["etag"]


async def test_json_camel_case_and_form_bodies_store_the_same_profile(
    client: httpx.AsyncClient,
) -> None:
    pascal = profile_body(2525, UseSSL=True)
    camel = {key[0].lower() + key[1:]: value for key, value in pascal.items()}
    form = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in pascal.items()
    }
    form["RelayUsername"] = ""  # an empty form value means "not set"
    results = []
    for kwargs in ({"json": pascal}, {"json": camel}, {"data": form}):
        response = await client.put("/KeyfactorAPI/SMTP", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        results.append(response.json())
    assert results[0] == results[1] == results[2]
    assert results[0]["Port"] == 2525 and results[0]["UseSSL"] is True


async def test_put_is_a_full_replacement(client: httpx.AsyncClient) -> None:
    await client.put("/KeyfactorAPI/SMTP", json=profile_body(2525, UseSSL=True))
    response = await client.put(
        "/KeyfactorAPI/SMTP",
        json={"Host": "relay.example.test", "SenderAccount": "a@example.test", "SenderName": "A"},
    )
    assert response.json()["Port"] == 25
    assert response.json()["UseSSL"] is False


@pytest.mark.parametrize(
    "media_type", ["text/json", "application/vnd.api+json", "application/json; charset=utf-8"]
)
async def test_json_media_types_are_accepted(client: httpx.AsyncClient, media_type: str) -> None:
    response = await client.put(
        "/KeyfactorAPI/SMTP",
        content=httpx.Response(200, json=profile_body()).content,
        headers={"Content-Type": media_type},
    )
    assert response.status_code == 200, response.text


async def test_responses_are_json_even_for_accept_any(client: httpx.AsyncClient) -> None:
    response = await client.get("/KeyfactorAPI/SMTP", headers={"Accept": "*/*"})
    assert response.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("header", ["X-Keyfactor-Requested-With", "x-keyfactor-requested-with"])
@pytest.mark.parametrize("value", ["APIClient", "XMLHttpRequest"])
async def test_requested_with_header_any_case(
    client: httpx.AsyncClient, header: str, value: str
) -> None:
    client.headers.pop("X-Keyfactor-Requested-With")
    assert (await client.get("/KeyfactorAPI/SMTP", headers={header: value})).status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "POST"])
async def test_missing_requested_with_is_400(client: httpx.AsyncClient, method: str) -> None:
    client.headers.pop("X-Keyfactor-Requested-With")
    path = "/KeyfactorAPI/SMTP/Test" if method == "POST" else "/KeyfactorAPI/SMTP"
    response = await client.request(method, path, json=profile_body())
    body = assert_error(response, 400)
    assert "X-Keyfactor-Requested-With" in str(body["Message"])


@pytest.mark.parametrize("version", ["1", "1.0", None])
async def test_api_version_1(client: httpx.AsyncClient, version: str | None) -> None:
    headers = {"X-Keyfactor-Api-Version": version} if version else {}
    assert (await client.get("/KeyfactorAPI/SMTP", headers=headers)).status_code == 200


@pytest.mark.parametrize("version", ["3", "abc", "1.1", "0", ""])
async def test_unknown_api_version_is_400(client: httpx.AsyncClient, version: str) -> None:
    response = await client.get("/KeyfactorAPI/SMTP", headers={"X-Keyfactor-Api-Version": version})
    assert_error(response, 400)


async def test_unknown_path_is_404_in_error_format(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/KeyfactorAPI/Nope"), 404)


async def test_wrong_method_is_405_in_error_format(client: httpx.AsyncClient) -> None:
    response = await client.delete("/KeyfactorAPI/SMTP")
    assert_error(response, 405)
    assert "GET" in response.headers["allow"]


async def test_openapi_document_and_docs_are_served(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert {"/KeyfactorAPI/SMTP", "/KeyfactorAPI/SMTP/Test"} <= set(document["paths"])
    assert "requestBody" in document["paths"]["/KeyfactorAPI/SMTP"]["put"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_same_error_gets_the_same_code(client: httpx.AsyncClient) -> None:
    first = assert_error(await client.put("/KeyfactorAPI/SMTP", json=profile_body(Port=0)), 400)
    second = assert_error(
        await client.put("/KeyfactorAPI/SMTP", json=profile_body(Port=70000)), 400
    )
    other = assert_error(await client.put("/KeyfactorAPI/SMTP", json=profile_body(Host=None)), 400)
    assert first["ErrorCode"] == second["ErrorCode"] != other["ErrorCode"]


async def test_if_match_stale_is_412_and_changes_nothing(client: httpx.AsyncClient) -> None:
    first = await client.put("/KeyfactorAPI/SMTP", json=profile_body(2525))
    stale = first.headers["etag"]
    await client.put("/KeyfactorAPI/SMTP", json=profile_body(2526))
    response = await client.put(
        "/KeyfactorAPI/SMTP", json=profile_body(2527), headers={"If-Match": stale}
    )
    assert_error(response, 412)
    assert (await client.get("/KeyfactorAPI/SMTP")).json()["Port"] == 2526
    current = (await client.get("/KeyfactorAPI/SMTP")).headers["etag"]
    ok = await client.put(
        "/KeyfactorAPI/SMTP", json=profile_body(2528), headers={"If-Match": current}
    )
    assert ok.status_code == 200 and ok.headers["etag"] != current
