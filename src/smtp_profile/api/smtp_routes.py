"""``GET/PUT /KeyfactorAPI/SMTP`` and ``POST /KeyfactorAPI/SMTP/Test``."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from smtp_profile.api import schemas
from smtp_profile.api.guards import (
    authenticate,
    check_api_headers,
    client_address,
    read_body,
    require_writer,
)
from smtp_profile.api.observability import Metrics
from smtp_profile.api.responses import (
    PreparedResponse,
    json_bytes,
    json_response,
    raw_json_response,
)
from smtp_profile.api.results import test_result_body
from smtp_profile.api.versions import VERSIONS
from smtp_profile.errors import InvalidField, RateLimited
from smtp_profile.limits import SlidingWindow
from smtp_profile.mail.plan import QuitAfter
from smtp_profile.runtime import Runtime
from smtp_profile.service import ProfileSnapshot

BASE = "/KeyfactorAPI"
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorOut, "description": text}
    for status, text in [
        (400, "Invalid input or headers"),
        (401, "No or bad credentials"),
        (403, "Not allowed for this role"),
        (412, "If-Match no longer matches"),
        (413, "Body too large"),
        (415, "Unsupported content type"),
    ]
}
_HEADERS = {
    "parameters": [
        {
            "name": "X-Keyfactor-Requested-With",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "example": "APIClient"},
        },
        {
            "name": "X-Keyfactor-Api-Version",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": ["1", "1.0", "2", "2.0"]},
        },
    ]
}


class _ViewCache:
    """The GET response of the current revision, encoded once per API version:
    body and header bytes are built only when the revision changes."""

    def __init__(self) -> None:
        self._responses: dict[int, tuple[int, bytes, list[tuple[bytes, bytes]]]] = {}

    def response(self, snapshot: ProfileSnapshot, version: int = 1) -> Response:
        cached = self._responses.get(version)
        if cached is None or cached[0] != snapshot.revision:
            prepared = raw_json_response(
                json_bytes(snapshot.view(version)), headers={"ETag": snapshot.etag}
            )
            cached = (snapshot.revision, bytes(prepared.body), prepared.raw_headers)
            self._responses[version] = cached
        return PreparedResponse(cached[1], cached[2])


def smtp_router(runtime: Runtime, metrics: Metrics) -> APIRouter:
    router = APIRouter(prefix=BASE, tags=["SMTP"])
    service = runtime.service
    limit = runtime.settings.max_body_bytes
    views = _ViewCache()
    test_limit = SlidingWindow(
        limit=runtime.settings.test_rate_limit, window=runtime.settings.test_rate_window
    )

    @router.get(
        "/SMTP",
        summary="Read the SMTP profile",
        responses={200: {"model": schemas.ProfileOut | schemas.ProfileOutV2}, **_ERRORS},
        openapi_extra=_HEADERS,
    )
    async def get_smtp(request: Request) -> Response:
        await authenticate(request, runtime.authenticator)
        version = check_api_headers(request)
        snapshot = service.cached()
        if snapshot is None:
            snapshot = await anyio.to_thread.run_sync(service.current)
        return views.response(snapshot, version)

    @router.put(
        "/SMTP",
        summary="Replace the SMTP profile (fields left out are cleared)",
        responses={200: {"model": schemas.ProfileOut | schemas.ProfileOutV2}, **_ERRORS},
        openapi_extra={
            **_HEADERS,
            **schemas.request_body(schemas.ProfileIn, form=True),
            "parameters": [
                *_HEADERS["parameters"],
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                },
            ],
        },
    )
    async def put_smtp(request: Request) -> Response:
        principal = await authenticate(request, runtime.authenticator)
        require_writer(principal)
        wire = VERSIONS[check_api_headers(request)]
        body = await read_body(request, limit=limit)
        profile_request = wire.profile_request(request.headers.get("content-type"), body)
        replace = partial(
            service.replace,
            profile_request,
            actor=principal,
            client=client_address(request),
            if_match=request.headers.get("if-match"),
        )
        snapshot = await anyio.to_thread.run_sync(replace)
        return json_response(snapshot.view(wire.number), headers={"ETag": snapshot.etag})

    @router.post(
        "/SMTP/Test",
        summary="Send a test e-mail with these settings (not stored)",
        responses={
            200: {"model": schemas.TestOut | schemas.TestOutV2},
            400: {
                "model": schemas.TestErrorOut,
                "description": "Invalid input, or the test failed",
            },
            **{k: v for k, v in _ERRORS.items() if k != 400},
        },
        openapi_extra={
            **schemas.request_body(schemas.TestIn, form=True),
            "parameters": [
                *_HEADERS["parameters"],
                {
                    "name": "QuitAfter",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": [step.value for step in QuitAfter]},
                },
            ],
        },
    )
    async def test_smtp(request: Request) -> Response:
        principal = await authenticate(request, runtime.authenticator)
        require_writer(principal)
        wire = VERSIONS[check_api_headers(request)]
        wait = test_limit.retry_after(principal.name)
        if wait:
            raise RateLimited(
                f"Too many tests: at most {test_limit.limit} every "
                f"{test_limit.window:g} s per user. Try again in {wait} s.",
                retry_after=wait,
            )
        quit_after = _quit_after(request)
        body = await read_body(request, limit=limit)
        test_request = wire.test_request(request.headers.get("content-type"), body)
        test_limit.add(principal.name)
        outcome = await service.test(
            test_request, actor=principal, client=client_address(request), quit_after=quit_after
        )
        metrics.tests.labels(
            "ok" if outcome.success else "failed", "-" if outcome.success else outcome.stage
        ).inc()
        return json_response(
            test_result_body(test_request, outcome, wire.echo),
            status=200 if outcome.success else 400,
        )

    return router


def _quit_after(request: Request) -> QuitAfter | None:
    values = [
        value for key, value in request.query_params.multi_items() if key.lower() == "quitafter"
    ]
    if not values or not values[-1]:
        return None
    try:
        return QuitAfter(values[-1].lower())
    except ValueError:
        allowed = ", ".join(step.value for step in QuitAfter)
        raise InvalidField("QuitAfter", "value", f"QuitAfter must be one of {allowed}.") from None
