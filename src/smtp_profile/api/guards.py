"""Per-request checks, in the order the spec fixes: who (401/403), then headers,
then the body (413/415/400)."""

from __future__ import annotations

import base64
import binascii
from functools import partial

import anyio.to_thread
from starlette.requests import Request

from smtp_profile.accounts import Authenticator, Principal
from smtp_profile.api.edge import EDGE_HEADERS
from smtp_profile.errors import (
    AuthenticationRequired,
    CsrfRejected,
    MissingRequestedWith,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedApiVersion,
)
from smtp_profile.web.sessions import COOKIE_NAME, Session, sessions_of

SUPPORTED_VERSIONS = {"1": 1, "1.0": 1, "2": 2, "2.0": 2}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _header(request: Request, name: bytes) -> str | None:
    """A request header, from what the edge middleware collected when it ran."""
    collected = request.scope.get(EDGE_HEADERS)
    if collected is None:
        return request.headers.get(name.decode())
    value = collected.get(name)
    return value.decode("latin-1") if value is not None else None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(login, password) from an ``Authorization: Basic`` header, else ``None``."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, colon, password = decoded.partition(":")
    if not colon or not login:
        return None
    return login, password


async def authenticate(request: Request, authenticator: Authenticator) -> Principal:
    """HTTP Basic; without an Authorization header, the web page's session cookie.

    A cookie is checked with one HMAC (no database read, no password hash); a
    state-changing request it authenticates must also carry the CSRF headers.
    """
    header = _header(request, b"authorization")
    if header is None and COOKIE_NAME in request.cookies:
        return await _session_principal(request)
    credentials = basic_credentials(header)
    if credentials is None:
        raise AuthenticationRequired("Authentication is required (HTTP Basic).")
    principal = authenticator.cached(*credentials)
    if principal is None:
        verify = partial(authenticator.verify, *credentials, client=client_address(request))
        principal = await anyio.to_thread.run_sync(verify)
    if principal is None:
        raise AuthenticationRequired("The user name or password is wrong.")
    return principal


async def _session_principal(request: Request) -> Principal:
    sessions = sessions_of(request)
    session = sessions.from_request(request) if sessions is not None else None
    if sessions is None or session is None:
        raise AuthenticationRequired("The web session has ended or is not valid; sign in again.")
    request.state.session_user = session.user  # who, for the audit of a denial
    check_csrf(request, session)
    principal = await sessions.principal(session)
    if principal is None:
        raise AuthenticationRequired("The web session's user no longer exists; sign in again.")
    return principal


def check_csrf(request: Request, session: Session) -> None:
    """A cookie-authenticated change must prove it comes from the page (403 otherwise).

    Both headers are needed: ``X-Keyfactor-Requested-With: XMLHttpRequest`` and
    ``X-CSRF-Token`` equal to the session's token, which only the page can read.
    """
    if request.method.upper() in SAFE_METHODS:
        return
    requested_with = request.headers.get("x-keyfactor-requested-with", "").strip()
    token = request.headers.get("x-csrf-token", "")
    if requested_with.lower() != "xmlhttprequest" or not session.csrf_matches(token):
        raise CsrfRejected(
            "A change made with the web session cookie needs the headers "
            "X-Keyfactor-Requested-With: XMLHttpRequest and the session's X-CSRF-Token; "
            "reload the page and try again."
        )


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def require_writer(principal: Principal) -> None:
    if not principal.may_write:
        raise PermissionDenied(
            f"User {principal.name!r} has the role {principal.role}; changing or testing "
            "the profile needs the admin role."
        )


def check_api_headers(request: Request) -> int:
    """The Keyfactor headers; returns the API version asked for."""
    requested_with = (_header(request, b"x-keyfactor-requested-with") or "").strip()
    if not requested_with:
        raise MissingRequestedWith(
            "The header X-Keyfactor-Requested-With is required (e.g. APIClient)."
        )
    # Absent means 1; present, it must be exactly a documented value (even empty is not).
    given = _header(request, b"x-keyfactor-api-version")
    version = "1" if given is None else given
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedApiVersion(
            f"X-Keyfactor-Api-Version {version!r} is not supported; this server speaks 1 and 2."
        )
    return SUPPORTED_VERSIONS[version]


async def read_body(request: Request, *, limit: int) -> bytes:
    """The whole body, refusing anything over ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
