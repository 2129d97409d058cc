"""Liveness, readiness (the database answers) and Prometheus metrics."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from smtp_profile.api.observability import Metrics
from smtp_profile.api.responses import json_response
from smtp_profile.runtime import Runtime


def health_router(runtime: Runtime, metrics: Metrics) -> APIRouter:
    router = APIRouter(tags=["Operations"])

    @router.get("/health/live", summary="The process is running")
    async def live() -> Response:
        return json_response({"Status": "ok"})

    @router.get("/health/ready", summary="The database answers")
    async def ready() -> Response:
        try:
            await anyio.to_thread.run_sync(runtime.database.check)
        except SQLAlchemyError as exc:
            return json_response(
                {"Status": "unavailable", "Reason": type(exc).__name__}, status=503
            )
        return json_response({"Status": "ok"})

    @router.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
