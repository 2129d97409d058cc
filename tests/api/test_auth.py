"""HTTP Basic against stored users; roles; 401/403 decided before the body is read."""

from __future__ import annotations

import httpx
import pytest

from smtp_profile.runtime import Runtime
from tests.api.test_contract import assert_error
from tests.conftest import ADMIN, api_client, profile_body


async def test_no_credentials_is_401_with_basic_challenge(runtime: Runtime) -> None:
    async with api_client(runtime, auth=None) as anonymous:
        response = await anonymous.get("/KeyfactorAPI/SMTP")
    assert_error(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("basic")


@pytest.mark.parametrize(
    "auth", [("admin", "wrong-password-1"), ("nobody", ADMIN[1]), ("", ADMIN[1])]
)
async def test_wrong_credentials_are_401(runtime: Runtime, auth: tuple[str, str]) -> None:
    async with api_client(runtime, auth=auth) as http:
        assert_error(await http.get("/KeyfactorAPI/SMTP"), 401)


@pytest.mark.parametrize("header", ["Bearer abc", "Basic !!!notbase64", "Basic YWRtaW4="])
async def test_malformed_authorization_is_401(runtime: Runtime, header: str) -> None:
    async with api_client(runtime, auth=None) as http:
        response = await http.get("/KeyfactorAPI/SMTP", headers={"Authorization": header})
    assert_error(response, 401)


@pytest.mark.parametrize("login", ["admin", "ADMIN", "CORP\\admin", "admin@corp.example"])
async def test_login_forms(runtime: Runtime, login: str) -> None:
    async with api_client(runtime, auth=(login, ADMIN[1])) as http:
        assert (await http.get("/KeyfactorAPI/SMTP")).status_code == 200


async def test_reader_reads_but_cannot_write_or_test(
    reader_client: httpx.AsyncClient,
) -> None:
    assert (await reader_client.get("/KeyfactorAPI/SMTP")).status_code == 200
    assert_error(await reader_client.put("/KeyfactorAPI/SMTP", json=profile_body()), 403)
    test = await reader_client.post(
        "/KeyfactorAPI/SMTP/Test", json={**profile_body(), "TestRecipient": "a@example.test"}
    )
    assert_error(test, 403)


async def test_403_comes_before_the_body_is_read(reader_client: httpx.AsyncClient) -> None:
    response = await reader_client.put(
        "/KeyfactorAPI/SMTP", content=b"x" * 100_000, headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 403)


async def test_401_comes_before_headers_and_body(runtime: Runtime) -> None:
    async with api_client(runtime, auth=None) as http:
        http.headers.pop("X-Keyfactor-Requested-With")
        response = await http.put(
            "/KeyfactorAPI/SMTP", content=b"{", headers={"Content-Type": "application/json"}
        )
    assert_error(response, 401)


async def test_removed_user_is_refused_once_the_cache_expires(runtime: Runtime) -> None:
    from smtp_profile.store.users import delete_user

    async with api_client(runtime) as http:
        assert (await http.get("/KeyfactorAPI/SMTP")).status_code == 200
        with runtime.database.write() as connection:
            delete_user(connection, "admin")
        runtime.authenticator.forget_all()
        assert_error(await http.get("/KeyfactorAPI/SMTP"), 401)
