"""Server-rendered HTML: the sign-in page and the profile page (Jinja2, autoescaped).

Everything else happens in ``static/portal.js`` through the JSON API, so the HTML
carries no inline script (the Content-Security-Policy forbids it).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from smtp_profile.accounts import Principal, Role
from smtp_profile.settings import Settings
from smtp_profile.web.sessions import Session

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_PREFIX = "/portal/static"
PAGE_PATH = "/portal/smtp"
MAX_ECHOED_LOGIN = 256
_NO_STORE = {"Cache-Control": "no-store"}


def _asset_versions() -> dict[str, str]:
    """A short content hash per asset, so a changed file is never served from a cache."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC_DIR.iterdir()
        if path.is_file()
    }


class Pages:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._versions = _asset_versions()
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals["asset"] = self.asset

    def asset(self, name: str) -> str:
        version = self._versions.get(name)
        suffix = f"?v={version}" if version else ""
        return f"{STATIC_PREFIX}/{name}{suffix}"

    def sign_in(
        self, *, message: str | None = None, login: str = "", status: int = 200
    ) -> HTMLResponse:
        html = self._env.get_template("signin.html").render(
            message=message, login=login[:MAX_ECHOED_LOGIN], page_path=PAGE_PATH
        )
        return HTMLResponse(html, status_code=status, headers=_NO_STORE)

    def profile(self, session: Session, principal: Principal, *, expires_at: float) -> HTMLResponse:
        settings = self._settings
        html = self._env.get_template("portal.html").render(
            user=principal.name,
            role=principal.role.value,
            role_label="administrator" if principal.role is Role.ADMIN else "reader",
            may_write=principal.may_write,
            csrf_token=session.csrf_token,
            implicit_tls_ports=",".join(str(port) for port in sorted(settings.implicit_tls_ports)),
            test_timeout=int(settings.test_timeout + 0.999),
            expires_at=datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds"),
        )
        return HTMLResponse(html, headers=_NO_STORE)
