"""``GET /KeyfactorAPI/Audit``: the audit trail, newest first, paged and filtered."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from smtp_profile.api import schemas
from smtp_profile.api.guards import authenticate, check_api_headers
from smtp_profile.api.query import query_int, query_time, query_value
from smtp_profile.api.responses import json_response
from smtp_profile.runtime import Runtime
from smtp_profile.store.audit import AuditFilter

MAX_PAGE_SIZE = 500


def audit_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/KeyfactorAPI", tags=["Audit"])

    @router.get(
        "/Audit",
        summary="Read the audit trail (newest first)",
        responses={200: {"model": schemas.AuditPage}},
        openapi_extra={"parameters": schemas.audit_parameters()},
    )
    async def get_audit(request: Request) -> Response:
        await authenticate(request, runtime.authenticator)
        check_api_headers(request)
        page = query_int(request, "Page", default=1, low=1, high=1_000_000)
        page_size = query_int(request, "PageSize", default=50, low=1, high=MAX_PAGE_SIZE)
        where = AuditFilter(
            since=query_time(request, "From"),
            until=query_time(request, "To"),
            user=query_value(request, "User"),
            operation=query_value(request, "Operation"),
        )
        fetch = partial(runtime.trail.page, where, page=page, page_size=page_size)
        records, total = await anyio.to_thread.run_sync(fetch)
        return json_response(
            {
                "Items": [record.as_json() for record in records],
                "Total": total,
                "Page": page,
                "PageSize": page_size,
            }
        )

    return router
