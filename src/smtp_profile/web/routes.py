"""The page (``/`` and ``/portal/smtp``) and its session endpoints (``/portal/session``).

* ``GET /`` and ``GET /portal/smtp``: the profile page when signed in, else the sign-in form.
* ``POST /portal/session``: sign in (form fields ``username`` and ``password``); 303 to
  the page with the session cookie, or 401 with the form and a message.
* ``GET /portal/session``: who is signed in, with the CSRF token (JSON), or 401.
* ``DELETE /portal/session``: sign out (needs the CSRF headers); 204, cookie cleared.

None of these needs the Keyfactor headers; the JSON API still does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from smtp_profile.accounts import Authenticator, Principal
from smtp_profile.api.denials import record_denial
from smtp_profile.api.guards import check_csrf, client_address, read_body
from smtp_profile.api.responses import error_body, json_response
from smtp_profile.errors import (
    AuthenticationRequired,
    CsrfRejected,
    MalformedBody,
    RateLimited,
    UnsupportedMediaType,
)
from smtp_profile.web.headers import SESSION_CHALLENGE
from smtp_profile.web.pages import PAGE_PATH, Pages
from smtp_profile.web.sessions import (
    COOKIE_NAME,
    Session,
    SessionManager,
    cleared_cookie,
    session_cookie,
    sessions_of,
)

log = logging.getLogger(__name__)
SESSION_PATH = "/portal/session"
FORM_TYPE = "application/x-www-form-urlencoded"
WRONG_CREDENTIALS = "The user name or password is wrong."


def _manager(request: Request) -> SessionManager:
    manager = sessions_of(request)
    if manager is None:
        raise RuntimeError("the web page is not installed on this application")
    return manager


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _signed_in(request: Request) -> tuple[Session, Principal] | None:
    session = _manager(request).from_request(request)
    if session is None:
        return None
    principal = await _manager(request).principal(session)
    return (session, principal) if principal is not None else None


def _cross_site(request: Request) -> bool:
    """A sign-in posted from another site (login CSRF) is refused.

    Browsers say where a request comes from in ``Sec-Fetch-Site``; the ``Origin``
    is not compared with ``Host``, which a reverse proxy may rewrite.
    """
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


async def _check_password(
    authenticator: Authenticator, login: str, password: str, *, client: str | None
) -> Principal | None:
    """As for HTTP Basic: the cache, else the hash in a thread (which may raise
    :class:`RateLimited` after too many failures for this login from this address)."""
    if not login or not password:
        return None
    principal = authenticator.cached(login, password)
    if principal is None:
        verify = partial(authenticator.verify, login, password, client=client)
        principal = await anyio.to_thread.run_sync(verify)
    return principal


def _start_session(request: Request, principal: Principal) -> Response:
    """A fresh session (any previous one in this browser ends) and a redirect to the page."""
    manager = _manager(request)
    previous = manager.from_request(request)
    if previous is not None:
        manager.end(previous)
    value, _session = manager.start(principal)
    log.info("web sign-in", extra={"user": principal.name, "role": principal.role.value})
    response = RedirectResponse(PAGE_PATH, status_code=303, headers={"Cache-Control": "no-store"})
    response.headers.append(
        "Set-Cookie", session_cookie(value, max_age=manager.lifetime, secure=_secure(request))
    )
    return response


async def _form_fields(request: Request, *, limit: int) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise UnsupportedMediaType(f"Sign in with a form body ({FORM_TYPE}).")
    body = await read_body(request, limit=limit)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise MalformedBody("The sign-in form could not be read.") from None
    return dict(pairs)


def web_router(*, pages: Pages, authenticator: Authenticator, max_body_bytes: int) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    @router.get(PAGE_PATH)
    async def page(request: Request) -> Response:
        found = await _signed_in(request)
        if found is None:
            had_cookie = COOKIE_NAME in request.cookies
            message = "Your session has ended; please sign in again." if had_cookie else None
            response: Response = pages.sign_in(message=message)
            if had_cookie:
                response.headers.append("Set-Cookie", cleared_cookie(secure=_secure(request)))
            return response
        session, principal = found
        return pages.profile(session, principal, expires_at=_manager(request).expires_at(session))

    @router.post(SESSION_PATH)
    async def sign_in(request: Request) -> Response:
        if _cross_site(request):
            raise CsrfRejected("Sign in from this site's own page.")
        fields = await _form_fields(request, limit=max_body_bytes)
        login = fields.get("username", "").strip()
        password = fields.get("password", "")
        try:
            principal = await _check_password(
                authenticator, login, password, client=client_address(request)
            )
        except RateLimited as exc:
            await record_denial(request, exc)
            limited = pages.sign_in(message=exc.message, login=login, status=429)
            limited.headers["Retry-After"] = str(exc.retry_after)
            return limited
        if principal is None:
            await record_denial(
                request, AuthenticationRequired(f"Web sign-in: {WRONG_CREDENTIALS}")
            )
            return pages.sign_in(message=WRONG_CREDENTIALS, login=login, status=401)
        return _start_session(request, principal)

    @router.get(SESSION_PATH)
    async def who_am_i(request: Request) -> Response:
        found = await _signed_in(request)
        if found is None:
            error = AuthenticationRequired("Not signed in, or the session has ended.")
            return json_response(
                error_body(error),
                status=401,
                headers={"WWW-Authenticate": SESSION_CHALLENGE, "Cache-Control": "no-store"},
            )
        session, principal = found
        expires = datetime.fromtimestamp(_manager(request).expires_at(session), UTC)
        return json_response(
            {
                "User": principal.name,
                "Role": principal.role.value,
                "MayWrite": principal.may_write,
                "CsrfToken": session.csrf_token,
                "ExpiresAt": expires.isoformat(timespec="seconds"),
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.delete(SESSION_PATH)
    async def sign_out(request: Request) -> Response:
        manager = _manager(request)
        session = manager.from_request(request)
        if session is not None:
            check_csrf(request, session)
            manager.end(session)
            log.info("web sign-out", extra={"user": session.user})
        response = Response(status_code=204, headers={"Cache-Control": "no-store"})
        response.headers.append("Set-Cookie", cleared_cookie(secure=_secure(request)))
        return response

    return router
