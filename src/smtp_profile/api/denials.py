"""Denied requests (401, 403, 429) go into the audit trail."""

from __future__ import annotations

import logging

import anyio.to_thread
from starlette.requests import Request

from smtp_profile.api.guards import basic_credentials, client_address
from smtp_profile.audit import Operation
from smtp_profile.errors import (
    AuthenticationRequired,
    PermissionDenied,
    RateLimited,
    ServiceError,
    entry_for,
)

log = logging.getLogger(__name__)
_DENIALS = (AuthenticationRequired, PermissionDenied, RateLimited)


async def record_denial(request: Request, error: ServiceError) -> None:
    if not isinstance(error, _DENIALS):
        return
    runtime = request.app.state.runtime
    credentials = basic_credentials(request.headers.get("authorization"))
    session_user = getattr(request.state, "session_user", None)
    entry = runtime.trail.entry(
        user=credentials[0] if credentials else session_user,
        client=client_address(request),
        operation=Operation.DENIED,
        outcome=str(entry_for(error).status),
        detail=f"{request.method} {request.url.path}: {error.message}",
    )
    await anyio.to_thread.run_sync(runtime.trail.record, entry)
    log.info("request denied", extra={"status": entry.outcome, "path": request.url.path})
