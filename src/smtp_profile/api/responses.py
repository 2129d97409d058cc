"""JSON responses in the API's format, and errors rendered from the catalogue."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from smtp_profile.errors import AuthenticationRequired, RateLimited, ServiceError, entry_for

JSON_MEDIA_TYPE = "application/json; charset=utf-8"


def json_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json_bytes(body), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE
    )


def raw_json_response(content: bytes, *, headers: dict[str, str] | None = None) -> Response:
    return Response(content, status_code=200, headers=headers, media_type=JSON_MEDIA_TYPE)


class PreparedResponse(Response):
    """A 200 whose body and header bytes were built earlier (the hot GET path)."""

    def __init__(self, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = list(raw_headers)


def error_body(error: ServiceError) -> dict[str, Any]:
    return {"ErrorCode": entry_for(error).code, "Message": error.message}


def error_response(error: ServiceError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, AuthenticationRequired):
        headers["WWW-Authenticate"] = 'Basic realm="smtp-profile", charset="UTF-8"'
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error_body(error), status=entry_for(error).status, headers=headers)
