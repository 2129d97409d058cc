"""Per-request checks, in the order the spec fixes: who (401/403), then headers,
then the body (413/415/400)."""

from __future__ import annotations

import base64
import binascii

import anyio.to_thread
from starlette.requests import Request

from smtp_profile.accounts import Authenticator, Principal
from smtp_profile.errors import (
    AuthenticationRequired,
    MissingRequestedWith,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedApiVersion,
)

SUPPORTED_VERSIONS = {"1": 1, "1.0": 1}


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
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        raise AuthenticationRequired("Authentication is required (HTTP Basic).")
    principal = authenticator.cached(*credentials)
    if principal is None:
        principal = await anyio.to_thread.run_sync(authenticator.verify, *credentials)
    if principal is None:
        raise AuthenticationRequired("The user name or password is wrong.")
    return principal


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
    requested_with = request.headers.get("x-keyfactor-requested-with", "").strip()
    if not requested_with:
        raise MissingRequestedWith(
            "The header X-Keyfactor-Requested-With is required (e.g. APIClient)."
        )
    version = request.headers.get("x-keyfactor-api-version", "1").strip()
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedApiVersion(
            f"X-Keyfactor-Api-Version {version!r} is not supported; this server speaks 1."
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
