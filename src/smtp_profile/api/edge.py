"""The one ASGI middleware in front of every route.

It does, in a single pass over the request headers, what every request needs:
canonical path spelling (``/KeyfactorApi/smtp`` is ``/KeyfactorAPI/SMTP``), a
request id (kept from ``X-Request-Id`` when sane), metrics and the access log,
and the web page's response headers. One layer instead of three: each ASGI layer
costs a coroutine and a wrapped ``send`` on the hot GET path.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smtp_profile.api.observability import Metrics, request_id_var
from smtp_profile.web.headers import adjust_page_headers, is_page_path

EDGE_HEADERS = "smtp_profile.headers"
_WANTED = frozenset({b"authorization", b"x-keyfactor-requested-with", b"x-keyfactor-api-version"})
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("smtp_profile.access")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, canonical: Iterable[str], metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.canonical = {path.lower(): path for path in canonical}
        # A random per-process prefix and a counter: unique, and far cheaper than uuid4.
        prefix = secrets.token_hex(6)
        self._ids = (f"{prefix}-{n:x}" for n in itertools.count(1))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = self.canonical.get(scope["path"].lower())
        if wanted is not None and wanted != scope["path"]:
            scope = dict(scope, path=wanted, raw_path=wanted.encode("ascii"))
        incoming, has_csrf = None, False
        seen: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in seen:  # the first one counts, as in Starlette
                seen[name] = value
            elif name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"x-csrf-token":
                has_csrf = True
        has_authorization = b"authorization" in seen
        # The guards read these from here instead of parsing the headers again.
        scope[EDGE_HEADERS] = seen
        request_id = incoming if incoming and _SAFE_ID.match(incoming) else next(self._ids)
        page = is_page_path(scope["path"])
        from_page = has_csrf and not has_authorization
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                if page or from_page:
                    headers = adjust_page_headers(headers, status, page=page, from_page=from_page)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            self._account(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _account(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        self.metrics.observe(method, template, status, elapsed)
        if (status >= 400 or method != "GET") and log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "method": method,
                    "route": template,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )
