"""Fixtures for the web page's session tests: the app with an injected clock, a
cookie-keeping client that sends no Basic credentials, and a sign-in helper."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from smtp_profile.api.app import create_app
from smtp_profile.runtime import Runtime
from smtp_profile.web.mount import session_manager
from smtp_profile.web.sessions import STATE_KEY
from tests.conftest import ADMIN


class FakeClock:
    """Unix time that moves only when told to."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def web_app(runtime: Runtime, clock: FakeClock) -> FastAPI:
    app = create_app(runtime)
    setattr(app.state, STATE_KEY, session_manager(runtime, clock=clock))
    return app


def browser(app: FastAPI, *, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """Like the page's browser: keeps cookies, sends no Authorization header."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def http(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(web_app) as client:
        yield client


def page_headers(token: str) -> dict[str, str]:
    """What the page's JavaScript sends with every API call."""
    return {"X-Keyfactor-Requested-With": "XMLHttpRequest", "X-CSRF-Token": token}


async def sign_in(http: httpx.AsyncClient, user: tuple[str, str] = ADMIN) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    response = await http.post("/portal/session", data={"username": user[0], "password": user[1]})
    assert response.status_code == 303, response.text
    session = await http.get("/portal/session")
    assert session.status_code == 200
    token = session.json()["CsrfToken"]
    assert isinstance(token, str) and len(token) >= 32
    return token
