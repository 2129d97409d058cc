"""Sign-in, the session cookie as API credentials, CSRF, expiry and sign-out (no browser)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from smtp_profile.runtime import Runtime
from smtp_profile.store.users import delete_user
from tests.api.test_contract import assert_error
from tests.conftest import ADMIN, API_HEADERS, READER, profile_body
from tests.web.conftest import FakeClock, browser, page_headers, sign_in

SMTP = "/KeyfactorAPI/SMTP"
XHR = {"X-Keyfactor-Requested-With": "XMLHttpRequest"}


def set_cookie(response: httpx.Response) -> str:
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1, cookies
    return cookies[0]


async def test_sign_in_sets_a_strict_http_only_cookie(http: httpx.AsyncClient) -> None:
    response = await http.post("/portal/session", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/smtp"
    cookie = set_cookie(response)
    attributes = [part.strip() for part in cookie.split(";")]
    assert attributes[0].startswith("smtp_profile_session=v1.")
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"} <= set(attributes)
    assert "Secure" not in attributes  # plain HTTP: a Secure cookie would never come back


async def test_cookie_is_secure_over_https(web_app: FastAPI) -> None:
    async with browser(web_app, base_url="https://testserver") as http:
        response = await http.post(
            "/portal/session", data={"username": ADMIN[0], "password": ADMIN[1]}
        )
    assert response.status_code == 303
    assert "Secure" in [part.strip() for part in set_cookie(response).split(";")]


@pytest.mark.parametrize("login", ["admin", "ADMIN", "CORP\\admin", "admin@corp.example"])
async def test_sign_in_accepts_the_api_login_forms(http: httpx.AsyncClient, login: str) -> None:
    await sign_in(http, (login, ADMIN[1]))
    assert (await http.get("/portal/session")).json()["User"] == "admin"


@pytest.mark.parametrize(
    "login, password",
    [("admin", "wrong-password-1"), ("nobody", ADMIN[1]), ("admin", ""), ("", "")],
)
async def test_wrong_credentials_are_401_without_saying_which(
    http: httpx.AsyncClient, login: str, password: str
) -> None:
    response = await http.post("/portal/session", data={"username": login, "password": password})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "The user name or password is wrong." in response.text
    assert "set-cookie" not in response.headers
    assert "no such user" not in response.text.lower()
    assert (await http.get("/portal/session")).status_code == 401


async def test_failed_sign_in_is_audited(http: httpx.AsyncClient, runtime: Runtime) -> None:
    await http.post("/portal/session", data={"username": "admin", "password": "nope-nope-nope"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=http._transport.app),  # type: ignore[attr-defined]
        base_url="http://testserver",
        headers=API_HEADERS,
        auth=ADMIN,
    ) as api:
        items = (await api.get("/KeyfactorAPI/Audit?PageSize=10")).json()["Items"]
    denied = [item for item in items if item["Operation"] == "denied"]
    assert any("/portal/session" in (item["Detail"] or "") for item in denied)
    assert all("nope-nope-nope" not in str(item) for item in items)


async def test_cross_site_sign_in_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/portal/session",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert_error(response, 403)
    assert response.json()["ErrorCode"] == "0xA0200003"
    assert "set-cookie" not in response.headers


async def test_sign_in_needs_a_form_body(http: httpx.AsyncClient) -> None:
    response = await http.post("/portal/session", json={"username": "a", "password": "b"})
    assert_error(response, 415)


async def test_cookie_authenticates_api_reads(http: httpx.AsyncClient) -> None:
    await sign_in(http)
    response = await http.get(SMTP, headers=XHR)
    assert response.status_code == 200
    assert response.json()["Id"] == 1
    assert "etag" in response.headers


async def test_api_still_needs_the_keyfactor_header_with_a_cookie(
    http: httpx.AsyncClient,
) -> None:
    await sign_in(http)
    assert_error(await http.get(SMTP), 400)


async def test_put_with_cookie_but_without_csrf_token_is_403_and_stores_nothing(
    http: httpx.AsyncClient,
) -> None:
    await sign_in(http)
    for headers in (XHR, API_HEADERS, {}):
        response = await http.put(SMTP, json=profile_body(), headers=headers)
        assert_error(response, 403)
        assert response.json()["ErrorCode"] == "0xA0200003"
    assert (await http.get(SMTP, headers=XHR)).json()["Host"] is None


async def test_wrong_csrf_token_or_header_is_403(http: httpx.AsyncClient) -> None:
    token = await sign_in(http)
    wrong_token = {**XHR, "X-CSRF-Token": token[:-1] + ("A" if token[-1] != "A" else "B")}
    api_client_header = {"X-Keyfactor-Requested-With": "APIClient", "X-CSRF-Token": token}
    for headers in (wrong_token, api_client_header):
        assert_error(await http.put(SMTP, json=profile_body(), headers=headers), 403)


async def test_put_with_token_and_xhr_header_is_200(http: httpx.AsyncClient) -> None:
    token = await sign_in(http)
    read = await http.get(SMTP, headers=XHR)
    response = await http.put(
        SMTP,
        json=profile_body(Host="relay.example.test"),
        headers={**page_headers(token), "If-Match": read.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    assert (await http.get(SMTP, headers=XHR)).json()["Host"] == "relay.example.test"


async def test_test_with_cookie_needs_csrf(http: httpx.AsyncClient) -> None:
    await sign_in(http)
    body = {**profile_body(), "TestRecipient": "you@example.test"}
    response = await http.post(f"{SMTP}/Test", json=body, headers=XHR)
    assert_error(response, 403)
    assert response.json()["ErrorCode"] == "0xA0200003"


async def test_basic_auth_needs_no_csrf_token(web_app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web_app),
        base_url="http://testserver",
        headers=API_HEADERS,
        auth=ADMIN,
    ) as api:
        assert (await api.put(SMTP, json=profile_body())).status_code == 200


async def test_readers_cookie_cannot_put(http: httpx.AsyncClient) -> None:
    token = await sign_in(http, READER)
    assert (await http.get(SMTP, headers=XHR)).status_code == 200
    response = await http.put(SMTP, json=profile_body(), headers=page_headers(token))
    assert_error(response, 403)
    assert response.json()["ErrorCode"] == "0xA0200002"


async def test_expired_session_is_refused(
    http: httpx.AsyncClient, clock: FakeClock, runtime: Runtime
) -> None:
    token = await sign_in(http)
    clock.advance(runtime.settings.session_seconds - 1)
    assert (await http.get(SMTP, headers=XHR)).status_code == 200
    clock.advance(1)
    response = await http.get(SMTP, headers=page_headers(token))
    assert_error(response, 401)
    assert not response.headers["www-authenticate"].lower().startswith("basic")
    assert_error(await http.put(SMTP, json=profile_body(), headers=page_headers(token)), 401)
    page = await http.get("/portal/smtp")
    assert 'action="/portal/session"' in page.text
    assert "session has ended" in page.text
    assert "Max-Age=0" in set_cookie(page)


async def test_sign_out_invalidates_the_cookie(web_app: FastAPI, http: httpx.AsyncClient) -> None:
    token = await sign_in(http)
    value = http.cookies["smtp_profile_session"]
    response = await http.delete("/portal/session", headers=page_headers(token))
    assert response.status_code == 204
    assert "Max-Age=0" in set_cookie(response)
    assert "smtp_profile_session" not in http.cookies
    assert (await http.get("/portal/session")).status_code == 401
    # A copy of the cookie kept from before the sign-out no longer works either.
    async with browser(web_app) as replay:
        stolen = {"Cookie": f"smtp_profile_session={value}"}
        assert_error(await replay.get(SMTP, headers={**XHR, **stolen}), 401)
        assert (await replay.get("/portal/session", headers=stolen)).status_code == 401


async def test_sign_out_needs_csrf(http: httpx.AsyncClient) -> None:
    await sign_in(http)
    assert_error(await http.delete("/portal/session", headers=XHR), 403)
    assert (await http.get("/portal/session")).status_code == 200


async def test_sign_out_without_a_session_just_clears_the_cookie(
    http: httpx.AsyncClient,
) -> None:
    response = await http.delete("/portal/session")
    assert response.status_code == 204
    assert "Max-Age=0" in set_cookie(response)


async def test_tampered_cookie_is_refused(web_app: FastAPI, http: httpx.AsyncClient) -> None:
    await sign_in(http, READER)
    value = http.cookies["smtp_profile_session"]
    last = value[-1]
    tampered = [value[:-1] + ("A" if last != "A" else "B"), value.replace(".", ".x", 1), "v1.e30."]
    async with browser(web_app) as other:
        for forged in tampered:
            headers = {**XHR, "Cookie": f"smtp_profile_session={forged}"}
            assert_error(await other.get(SMTP, headers=headers), 401)


async def test_valid_cookie_costs_no_database_read_and_no_hash(
    http: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await sign_in(http)
    for _ in range(2):  # the service reads the profile into memory (and syncs its change probe)
        await http.get(SMTP, headers=XHR)

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the fast path touched the database or hashed a password")

    monkeypatch.setattr(runtime.database, "read", forbidden)
    monkeypatch.setattr(runtime.authenticator, "verify", forbidden)
    monkeypatch.setattr(runtime.authenticator, "cached", forbidden)
    for _ in range(3):
        assert (await http.get(SMTP, headers=page_headers(token))).status_code == 200


async def test_removed_user_is_refused_after_the_recheck_interval(
    http: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await sign_in(http)
    with runtime.database.write() as connection:
        delete_user(connection, "admin")
    assert (await http.get(SMTP, headers=XHR)).status_code == 200  # cached role
    clock.advance(runtime.settings.auth_cache_seconds)
    assert_error(await http.get(SMTP, headers=XHR), 401)
    assert (await http.get("/portal/session")).status_code == 401


async def test_session_endpoint(http: httpx.AsyncClient, clock: FakeClock) -> None:
    anonymous = await http.get("/portal/session")
    assert_error(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Session")
    await sign_in(http, READER)
    body = (await http.get("/portal/session")).json()
    assert body["User"] == "reader"
    assert body["Role"] == "reader"
    assert body["MayWrite"] is False
    assert body["ExpiresAt"].startswith("2027-01-15T")  # the fake clock + 8 h


async def test_page_api_calls_get_no_basic_login_prompt(web_app: FastAPI) -> None:
    """A 401 to the page's own fetch must not make the browser show its Basic dialog."""
    async with browser(web_app) as http:
        from_page = await http.get(SMTP, headers=page_headers("stale-token"))
        from_api_client = await http.get(SMTP, headers=API_HEADERS)
    assert from_page.headers["www-authenticate"].startswith("Session")
    assert from_api_client.headers["www-authenticate"].lower().startswith("basic")


async def test_repeated_failed_sign_ins_are_throttled_per_client(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    limit = runtime.settings.signin_failure_limit
    assert limit > 0
    for _ in range(limit):
        response = await http.post("/portal/session", data={"username": "admin", "password": "x"})
        assert response.status_code == 401
    right = {"username": ADMIN[0], "password": ADMIN[1]}
    limited = await http.post("/portal/session", data=right)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in limited.text
    assert "set-cookie" not in limited.headers


async def test_signing_in_again_ends_the_previous_session(
    web_app: FastAPI, http: httpx.AsyncClient
) -> None:
    await sign_in(http)
    first = http.cookies["smtp_profile_session"]
    await sign_in(http)
    assert http.cookies["smtp_profile_session"] != first
    async with browser(web_app) as replay:
        old = {"Cookie": f"smtp_profile_session={first}"}
        assert (await replay.get("/portal/session", headers=old)).status_code == 401
