"""``install_web(app, runtime)``: the page, its session endpoints, assets and headers."""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from smtp_profile.runtime import Runtime
from smtp_profile.web.pages import STATIC_DIR, STATIC_PREFIX, Pages
from smtp_profile.web.routes import web_router
from smtp_profile.web.sessions import (
    STATE_KEY,
    Clock,
    SessionManager,
    database_role_lookup,
)

SESSION_KEY_PURPOSE = "web-session"


def session_manager(runtime: Runtime, *, clock: Clock = time.time) -> SessionManager:
    """Sessions signed with a key derived from the key file: every instance agrees."""
    return SessionManager(
        key=runtime.box.derive_key(SESSION_KEY_PURPOSE),
        lifetime=runtime.settings.session_seconds,
        recheck_seconds=runtime.settings.auth_cache_seconds,
        lookup=database_role_lookup(runtime.database),
        clock=clock,
    )


def install_web(app: FastAPI, runtime: Runtime) -> None:
    setattr(app.state, STATE_KEY, session_manager(runtime))
    app.include_router(
        web_router(
            pages=Pages(runtime.settings),
            authenticator=runtime.authenticator,
            max_body_bytes=runtime.settings.max_body_bytes,
        )
    )
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR, html=False), name="portal-static")
