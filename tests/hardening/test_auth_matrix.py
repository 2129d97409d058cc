"""Authentication and authorization: every route x every kind of caller.

Each cell is sent twice: as a proper request, and as one with a broken body and without
``X-Keyfactor-Requested-With``; 401 and 403 are decided before headers and body
(README: "Order of checks"), so the broken one gets the same answer when it is refused,
and the header's 400 when the caller is allowed. Every error is the JSON error format with
an ErrorCode from README's table; every 401 challenges with Basic; every 401/403 is one
``denied`` audit record; a refused change changes nothing.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from smtp_profile.api.app import create_app
from smtp_profile.runtime import Runtime
from smtp_profile.store.audit import AuditFilter
from tests.conftest import ADMIN, API_HEADERS, READER, profile_body
from tests.hardening.support import assert_error_body
from tests.support.smtpd import RunningSmtpd

UNAUTHORIZED, FORBIDDEN, CSRF = "0xA0200001", "0xA0200002", "0xA0200003"
MISSING_HEADER = "0xA0100001"
RECIPIENT = "ops@example.test"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    writes: bool

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("GET", "/KeyfactorAPI/SMTP", writes=False),
    Route("GET", "/keyfactorapi/smtp", writes=False),  # paths are case-insensitive
    Route("PUT", "/KeyfactorAPI/SMTP", writes=True),
    Route("PUT", "/KEYFACTORAPI/Smtp", writes=True),
    Route("POST", "/KeyfactorAPI/SMTP/Test", writes=True),
    Route("GET", "/KeyfactorAPI/Audit", writes=False),
]
CALLERS = ["none", "wrong-password", "unknown-user", "reader", "admin", "session", "session-csrf"]


def expected(route: Route, caller: str) -> tuple[int, str | None]:
    """The documented answer to a proper request (status, ErrorCode)."""
    if caller in ("none", "wrong-password", "unknown-user"):
        return 401, UNAUTHORIZED
    if caller == "reader" and route.writes:
        return 403, FORBIDDEN
    if caller == "session" and route.writes:
        return 403, CSRF
    return 200, None


def expected_broken(route: Route, caller: str) -> tuple[int, str]:
    # Without X-Keyfactor-Requested-With a cookie-authenticated change lacks its CSRF proof.
    status, code = expected(route, "session" if caller == "session-csrf" else caller)
    if status in (401, 403):
        assert code is not None
        return status, code
    return 400, MISSING_HEADER


@dataclass
class Caller:
    http: httpx.AsyncClient
    headers: dict[str, str]


CREDENTIALS: dict[str, tuple[str, str] | None] = {
    "none": None,
    "wrong-password": (ADMIN[0], "not-the-password-1"),
    "unknown-user": ("nobody", ADMIN[1]),
    "reader": READER,
    "admin": ADMIN,
    "session": None,
    "session-csrf": None,
}


class Callers:
    """Clients of one app, made on first use; the session ones sign in through the form."""

    def __init__(self, runtime: Runtime) -> None:
        self.app = create_app(runtime)
        self._made: dict[str, Caller] = {}

    async def __call__(self, name: str) -> Caller:
        if name not in self._made:
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app),
                base_url="http://testserver",
                headers=API_HEADERS,
                auth=CREDENTIALS[name],
            )
            caller = Caller(http, dict(API_HEADERS))
            self._made[name] = caller
            if name.startswith("session"):
                await self._sign_in(caller, csrf=name == "session-csrf")
        return self._made[name]

    @staticmethod
    async def _sign_in(caller: Caller, *, csrf: bool) -> None:
        form = {"username": ADMIN[0], "password": ADMIN[1]}
        signed = await caller.http.post("/portal/session", data=form)
        assert signed.status_code == 303, signed.text
        who = await caller.http.get("/portal/session")
        assert who.status_code == 200 and who.json()["User"] == ADMIN[0]
        if csrf:
            caller.headers = {
                "X-Keyfactor-Requested-With": "XMLHttpRequest",
                "X-CSRF-Token": who.json()["CsrfToken"],
            }

    async def close(self) -> None:
        for caller in self._made.values():
            await caller.http.aclose()


@pytest.fixture
async def callers(runtime: Runtime) -> AsyncIterator[Callers]:
    made = Callers(runtime)
    yield made
    await made.close()


def _body(route: Route, port: int) -> dict[str, object] | None:
    if route.method == "PUT":
        return profile_body(port, SenderName="Matrix")
    if route.method == "POST":
        return {**profile_body(port), "TestRecipient": RECIPIENT}
    return None


async def _denials(runtime: Runtime) -> list[str]:
    records, _ = runtime.trail.page(AuditFilter(operation="denied"), page=1, page_size=500)
    return [record.as_json()["Outcome"] for record in records]


async def _send(caller: Caller, route: Route, port: int, *, broken: bool) -> httpx.Response:
    if broken:
        headers = {k: v for k, v in caller.headers.items() if k != "X-Keyfactor-Requested-With"}
        content = b'{"Host": ' if route.method != "GET" else None
        headers["Content-Type"] = "application/json"
        # The client's default headers carry the API header: send without them.
        request = caller.http.build_request(
            route.method, route.path, content=content, headers=headers
        )
        del request.headers["X-Keyfactor-Requested-With"]
        return await caller.http.send(request)
    return await caller.http.request(
        route.method, route.path, json=_body(route, port), headers=caller.headers
    )


@pytest.mark.parametrize("broken", [False, True], ids=["proper", "broken-body-no-header"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
async def test_matrix(
    runtime: Runtime,
    callers: Callers,
    smtpd: RunningSmtpd,
    route: Route,
    caller: str,
    broken: bool,
) -> None:
    admin = await callers("admin")
    before = await admin.http.get("/KeyfactorAPI/SMTP")
    denied_before = await _denials(runtime)

    response = await _send(await callers(caller), route, smtpd.port, broken=broken)

    status, code = expected_broken(route, caller) if broken else expected(route, caller)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    if status == 200:
        assert "ErrorCode" not in response.json()
    else:
        assert_error_body(response.json(), status, code)
    challenge = response.headers.get("www-authenticate")
    if status == 401:
        assert challenge is not None and challenge.split()[0].lower() == "basic", challenge
    else:
        assert challenge is None

    denied_after = await _denials(runtime)
    added = denied_after[: len(denied_after) - len(denied_before)]
    assert added == ([str(status)] if status in (401, 403) else [])

    after = await admin.http.get("/KeyfactorAPI/SMTP")
    changed = (after.json(), after.headers["etag"]) != (before.json(), before.headers["etag"])
    assert changed == (route.method == "PUT" and status == 200)
    if route.method == "POST" and status == 200:
        assert response.json()["Success"] is True
        assert smtpd.handler.messages[-1].rcpt_tos == [RECIPIENT]
    if route.method == "POST" and status != 200:
        assert smtpd.handler.messages == []


BASE = "/KeyfactorAPI"
WRONG_METHODS = [
    ("DELETE", f"{BASE}/SMTP", {"GET", "PUT"}),
    ("POST", f"{BASE}/SMTP", {"GET", "PUT"}),
    ("PATCH", f"{BASE}/SMTP", {"GET", "PUT"}),
    ("OPTIONS", f"{BASE}/SMTP", {"GET", "PUT"}),
    ("BREW", f"{BASE}/smtp", {"GET", "PUT"}),
    ("GET", f"{BASE}/SMTP/Test", {"POST"}),
    ("PUT", f"{BASE}/SMTP/Test", {"POST"}),
    ("DELETE", f"{BASE}/Audit", {"GET"}),
    ("POST", f"{BASE}/Audit", {"GET"}),
]


@pytest.mark.parametrize(
    ("method", "path", "allowed"), WRONG_METHODS, ids=[f"{m} {p}" for m, p, _ in WRONG_METHODS]
)
async def test_wrong_method(
    runtime: Runtime, callers: Callers, method: str, path: str, allowed: set[str]
) -> None:
    """A method the path does not have is 405 for every caller (the path's methods are
    public in /openapi.json), with the JSON error and an Allow header naming only real
    methods; nothing is audited as denied."""
    denied_before = await _denials(runtime)
    for caller in CALLERS:
        client = await callers(caller)
        response = await client.http.request(method, path, headers=client.headers)
        assert response.status_code == 405, (caller, response.text)
        assert_error_body(response.json(), 405, "0xA0300002")
        listed = {m.strip().upper() for m in response.headers["allow"].split(",")}
        assert listed and listed <= allowed | {"HEAD"}, (caller, listed)
    assert await _denials(runtime) == denied_before


@pytest.mark.parametrize("method", ["DELETE", "POST"])
async def test_allow_lists_every_method_of_the_path(callers: Callers, method: str) -> None:
    response = await (await callers("admin")).http.request(method, f"{BASE}/SMTP")
    assert response.status_code == 405
    listed = {m.strip().upper() for m in response.headers["allow"].split(",")}
    assert {"GET", "PUT"} <= listed


@pytest.mark.parametrize("path", [f"{BASE}/Nope", f"{BASE}/SMTP/Test/x", "/KeyfactorAPI", "/x"])
async def test_unknown_path(callers: Callers, path: str) -> None:
    for caller in CALLERS:
        client = await callers(caller)
        response = await client.http.get(path, headers=client.headers)
        assert response.status_code == 404, (caller, response.text)
        assert_error_body(response.json(), 404, "0xA0300001")


MALFORMED = {
    "bearer": "Bearer abc.def.ghi",
    "basic-empty": "Basic ",
    "basic-not-base64": "Basic %%%",
    "basic-no-colon": "Basic " + base64.b64encode(b"admin").decode(),
    "basic-empty-login": "Basic " + base64.b64encode(b":" + ADMIN[1].encode()).decode(),
    "basic-not-utf8": "Basic " + base64.b64encode(b"admin:\xff\xfe").decode(),
    "digest": 'Digest username="admin"',
}


@pytest.mark.parametrize("header", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_malformed_authorization(callers: Callers, header: str) -> None:
    """Not Basic, or Basic that does not decode to login:password: 401 like no credentials."""
    http = (await callers("none")).http
    for route in ROUTES:
        response = await http.request(
            route.method, route.path, json=_body(route, 25), headers={"Authorization": header}
        )
        assert response.status_code == 401, (route.id, response.text)
        assert_error_body(response.json(), 401, UNAUTHORIZED)
        assert response.headers["www-authenticate"].split()[0].lower() == "basic"
