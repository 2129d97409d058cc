"""Response headers for the web page: security headers, and no browser login prompt.

A 401 with ``WWW-Authenticate: Basic`` makes a browser pop up its own login dialog,
even for a ``fetch``. The page's API calls (recognised by the ``X-CSRF-Token`` header,
which API clients never send, and no ``Authorization`` header) get a ``Session``
challenge instead, so an ended session shows the page's own sign-in.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
SESSION_CHALLENGE = 'Session realm="smtp-profile"'


def is_page_path(path: str) -> bool:
    return path == "/" or path == "/portal" or path.startswith("/portal/")


class PageHeaders:
    """Pure ASGI middleware: adds :data:`SECURITY_HEADERS` to the page and its assets,
    and swaps the Basic challenge of a 401 answered to the page's own API calls."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = is_page_path(scope["path"])
        names = {name for name, _ in scope["headers"]}  # raw, lower-case: cheap on every call
        from_page = b"authorization" not in names and b"x-csrf-token" in names
        if not page and not from_page:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if page:
                    for name, value in SECURITY_HEADERS.items():
                        headers.setdefault(name, value)
                if message["status"] == 401 and "www-authenticate" in headers:
                    headers["WWW-Authenticate"] = SESSION_CHALLENGE
            await send(message)

        await self.app(scope, receive, send_with_headers)
