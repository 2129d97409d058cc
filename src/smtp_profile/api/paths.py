"""Case-insensitive API paths: ``/KeyfactorApi/smtp`` is ``/KeyfactorAPI/SMTP``."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send


class CaseInsensitivePaths:
    """Pure ASGI middleware that rewrites a known path to its canonical spelling."""

    def __init__(self, app: ASGIApp, *, canonical: Iterable[str]) -> None:
        self.app = app
        self.canonical = {path.lower(): path for path in canonical}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            wanted = self.canonical.get(path.lower())
            if wanted is not None and wanted != path:
                scope = dict(scope, path=wanted, raw_path=wanted.encode("ascii"))
        await self.app(scope, receive, send)
