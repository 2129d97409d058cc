"""Response headers for the web page: security headers, and no browser login prompt.

Applied by the service's edge middleware (:mod:`smtp_profile.api.edge`).

A 401 with ``WWW-Authenticate: Basic`` makes a browser pop up its own login dialog,
even for a ``fetch``. The page's API calls (recognised by the ``X-CSRF-Token`` header,
which API clients never send, and no ``Authorization`` header) get a ``Session``
challenge instead, so an ended session shows the page's own sign-in.
"""

from __future__ import annotations

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


def adjust_page_headers(
    raw_headers: list[tuple[bytes, bytes]], status: int, *, page: bool, from_page: bool
) -> list[tuple[bytes, bytes]]:
    """Response headers for the page (security headers) and for the page's own API
    calls (a ``Session`` challenge instead of Basic on 401). Pure."""
    headers = list(raw_headers)
    present = {name.lower() for name, _ in headers}
    if page:
        headers += [
            (name.lower().encode(), value.encode())
            for name, value in SECURITY_HEADERS.items()
            if name.lower().encode() not in present
        ]
    if from_page and status == 401 and b"www-authenticate" in present:
        headers = [(n, v) for n, v in headers if n.lower() != b"www-authenticate"]
        headers.append((b"www-authenticate", SESSION_CHALLENGE.encode()))
    return headers
