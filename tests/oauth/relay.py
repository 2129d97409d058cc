"""An aiosmtpd relay that accepts SASL XOAUTH2 and OAUTHBEARER and checks every bearer
token against the tokens the test token endpoint issued (not expired, not revoked).

``reject_next`` makes it refuse that many otherwise valid logins, the way a relay
refuses a token it considers stale; a refusal follows each mechanism's error protocol
(334 with a JSON status, the client's answer, then 535).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult

from tests.oauth.token_server import TokenEndpoint
from tests.support.smtpd import SERVER_NAME, RecordingHandler


@dataclass
class Attempt:
    mechanism: str
    user: str
    token: str
    accepted: bool


@dataclass
class OAuthRelay:
    endpoint: TokenEndpoint
    handler: RecordingHandler
    server: asyncio.base_events.Server
    port: int
    attempts: list[Attempt] = field(default_factory=list)
    reject_next: int = 0
    host: str = "127.0.0.1"

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    def check(self, mechanism: str, user: str, token: str) -> bool:
        accepted = self.endpoint.valid(token) is not None
        if accepted and self.reject_next > 0:
            self.reject_next -= 1
            accepted = False
        self.attempts.append(Attempt(mechanism, user, token, accepted))
        return accepted


def _xoauth2(blob: bytes) -> tuple[str, str]:
    fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
    return fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")


def _oauthbearer(blob: bytes) -> tuple[str, str]:
    header, _, rest = blob.decode().partition("\x01")
    user = next((p[2:] for p in header.split(",") if p.startswith("a=")), "")
    user = user.replace("=2C", ",").replace("=3D", "=")
    fields = dict(part.split("=", 1) for part in rest.split("\x01") if "=" in part)
    return user, fields.get("auth", "").removeprefix("Bearer ")


_ERROR = json.dumps({"status": "401", "schemes": "bearer", "scope": "smtp"}).encode()


class _OAuthSMTP(SMTP):
    relay: OAuthRelay

    async def _oauth(self, mechanism: str, args: list[str], parse: Any) -> AuthResult:
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        user, token = parse(blob)
        if self.relay.check(mechanism, user, token):
            return AuthResult(success=True, auth_data=user)
        await self.challenge_auth(_ERROR)  # the client answers, then we say 535
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        return await self._oauth("XOAUTH2", args, _xoauth2)

    async def auth_OAUTHBEARER(self, _: Any, args: list[str]) -> AuthResult:
        return await self._oauth("OAUTHBEARER", args, _oauthbearer)


async def start_oauth_relay(
    endpoint: TokenEndpoint, *, mechanisms: tuple[str, ...] = ("XOAUTH2", "OAUTHBEARER")
) -> OAuthRelay:
    handler = RecordingHandler()
    excluded = [m for m in ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER") if m not in mechanisms]
    relay_box: list[OAuthRelay] = []

    def factory() -> SMTP:
        server = _OAuthSMTP(
            handler,
            hostname=SERVER_NAME,
            auth_require_tls=False,
            auth_exclude_mechanism=excluded,
            enable_SMTPUTF8=True,
        )
        server.relay = relay_box[0]
        return server

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=0)
    relay = OAuthRelay(endpoint, handler, server, server.sockets[0].getsockname()[1])
    relay_box.append(relay)
    return relay
