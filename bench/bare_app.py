"""The baseline "bare endpoint": FastAPI on uvicorn, one constant JSON object, nothing else.

No authentication, no database, no middleware. It answers ``GET /KeyfactorAPI/SMTP`` with
a JSON object of exactly ``--body-bytes`` bytes (the size of the service's profile GET
body) and is served exactly like ``smtp-profile serve`` serves the real app
(``loop="asyncio"``, ``access_log=False``, ``log_config=None``).

    python -m bench.bare_app --port 8081 --body-bytes 215
"""

from __future__ import annotations

import argparse
import json

from fastapi import FastAPI
from starlette.responses import Response

MEDIA_TYPE = "application/json; charset=utf-8"


def constant_body(size: int) -> bytes:
    """A JSON object shaped like the profile, padded to exactly ``size`` bytes."""
    base: dict[str, object] = {
        "Id": 1,
        "Host": "smtp.example.com",
        "Port": 587,
        "RelayAuthenticationType": 2,
        "RelayUsername": "",
        "SenderAccount": "alerts@example.com",
        "SenderName": "Certificate Alerts",
        "UseSSL": True,
        "HasPassword": True,
    }
    empty = len(json.dumps(base, separators=(",", ":")).encode())
    if size < empty:
        raise ValueError(f"body size must be at least {empty} bytes")
    base["RelayUsername"] = "x" * (size - empty)
    body = json.dumps(base, separators=(",", ":")).encode()
    assert len(body) == size
    return body


def create_bare_app(body: bytes) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/KeyfactorAPI/SMTP")
    async def profile() -> Response:
        return Response(body, media_type=MEDIA_TYPE)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-bytes", type=int, required=True)
    options = parser.parse_args()

    import uvicorn

    uvicorn.run(
        create_bare_app(constant_body(options.body_bytes)),
        host=options.host,
        port=options.port,
        log_level="warning",
        loop="asyncio",
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
