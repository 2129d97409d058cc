"""``create_app(settings)``: the ASGI application, built from explicit settings."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smtp_profile import __version__
from smtp_profile.api.audit_routes import audit_router
from smtp_profile.api.denials import record_denial
from smtp_profile.api.edge import EdgeMiddleware
from smtp_profile.api.health_routes import health_router
from smtp_profile.api.observability import Metrics
from smtp_profile.api.openapi import complete_document
from smtp_profile.api.responses import error_response
from smtp_profile.api.smtp_routes import smtp_router
from smtp_profile.errors import (
    InvalidField,
    MalformedBody,
    MethodNotAllowed,
    NotFound,
    ServiceError,
)
from smtp_profile.runtime import Runtime
from smtp_profile.web.mount import install_web

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="smtp-profile",
        version=__version__,
        description="The SMTP relay profile API: read, replace and test the single "
        "outgoing-mail profile. Paths are case-insensitive.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.runtime = runtime
    metrics = Metrics()
    app.state.metrics = metrics
    # First in the route table and not behind an included-router layer: GET /SMTP is
    # the hot path, and each layer and each route tried before it costs time.
    app.router.routes[:0] = smtp_router(runtime, metrics).routes
    app.include_router(audit_router(runtime))
    install_web(app, runtime)
    app.include_router(health_router(runtime, metrics))
    _install_error_handlers(app)
    app.openapi_schema = complete_document(app.openapi())
    app.add_middleware(EdgeMiddleware, canonical=list(app.openapi()["paths"]), metrics=metrics)
    return app


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the document lists for ``path`` (routes may sit in several routers)."""
    operations = app.openapi().get("paths", {}).get(path, {})
    return sorted(method.upper() for method in operations) or ["GET"]


def _install_error_handlers(app: FastAPI) -> None:
    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        await record_denial(request, exc)
        return error_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(NotFound("No such resource."))
        if exc.status_code == 405:
            allowed = _allowed_methods(request.app, request.url.path)
            response = error_response(
                MethodNotAllowed(f"This method is not allowed here; use {', '.join(allowed)}.")
            )
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return error_response(MalformedBody(str(exc.detail)))

    async def validation_error(_request: Request, exc: Exception) -> Response:
        return error_response(InvalidField("Request", "format", "The request is not valid."))

    async def unexpected_error(_request: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
        return error_response(ServiceError("Internal error; the log has details."))

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
