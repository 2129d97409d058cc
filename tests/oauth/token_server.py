"""A small real OAuth 2.0 token endpoint on 127.0.0.1 (asyncio, HTTP/1.1, port 0).

It issues short-lived random bearer tokens with the client-credentials grant and
remembers them, so the test relay can check a token the way a real relay asks its
identity provider. Failures are switched on per test: a wrong client (invalid_client),
an unknown scope (invalid_scope), a non-JSON answer, HTTP 500, a slow answer, a
client authentication method it refuses. Its clock is injectable, like the service's
token cache, so expiry is tested by moving time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

PATH = "/oauth2/v2.0/token"
SCOPE = "https://outlook.office365.com/.default"


@dataclass
class TokenRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    auth: str  # "basic", "post" or "none"
    client_id: str | None


@dataclass
class Issued:
    token: str
    client_id: str
    scope: str | None
    expires_at: float


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class TokenEndpoint:
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> client_secret
    scopes: set[str] = field(default_factory=lambda: {SCOPE})
    lifetime: int = 3600
    accept: set[str] = field(default_factory=lambda: {"basic", "post"})
    mode: str | None = None  # None, "non-json", "500", "slow", "no-token", "redirect"
    slow_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    requests: list[TokenRequest] = field(default_factory=list)
    issued: dict[str, Issued] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    port: int = 0
    server: asyncio.base_events.Server | None = None

    def url(self, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{PATH}"

    def valid(self, token: str) -> Issued | None:
        issued = self.issued.get(token)
        if issued is None or token in self.revoked or self.clock() >= issued.expires_at:
            return None
        return issued

    async def start(self, *, tls: ssl.SSLContext | None = None) -> TokenEndpoint:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read(reader)
            if request is not None:
                self.requests.append(request)
                status, content_type, body = await self._answer(request)
                head = (
                    f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
                    "Connection: close\r\n\r\n"
                )
                writer.write(head.encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> TokenRequest | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        form = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
        auth, client_id = "none", form.get("client_id")
        if headers.get("authorization", "").lower().startswith("basic "):
            auth = "basic"
            decoded = base64.b64decode(headers["authorization"][6:]).decode()
            client_id = unquote_plus(decoded.partition(":")[0])
        elif "client_secret" in form:
            auth = "post"
        return TokenRequest(method, path, headers, form, auth, client_id)

    def _client_ok(self, request: TokenRequest) -> bool:
        if request.auth not in self.accept or request.client_id is None:
            return False
        if request.auth == "basic":
            decoded = base64.b64decode(request.headers["authorization"][6:]).decode()
            secret = unquote_plus(decoded.partition(":")[2])
        else:
            secret = request.form.get("client_secret", "")
        expected = self.clients.get(request.client_id)
        return expected is not None and secrets.compare_digest(expected, secret)

    async def _answer(self, request: TokenRequest) -> tuple[int, str, bytes]:
        if self.mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if self.mode == "500":
            return 500, "text/plain", b"internal error"
        if self.mode == "non-json":
            return 200, "text/html", b"<html>Sign in</html>"
        if self.mode == "redirect":
            return 302, "text/plain", b""
        if request.method != "POST" or request.path != PATH:
            return 404, "text/plain", b"not found"
        if request.form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type")
        if not self._client_ok(request):
            return _error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        scope = request.form.get("scope")
        if self.scopes and scope not in self.scopes:
            return _error(400, "invalid_scope", f"AADSTS70011: The scope {scope} is not valid.")
        if self.mode == "no-token":
            return 200, "application/json", b'{"token_type": "Bearer"}'
        token = secrets.token_urlsafe(24)
        assert request.client_id is not None
        self.issued[token] = Issued(token, request.client_id, scope, self.clock() + self.lifetime)
        document = {"token_type": "Bearer", "expires_in": self.lifetime, "access_token": token}
        return 200, "application/json; charset=utf-8", json.dumps(document).encode()


def _error(status: int, error: str, description: str | None = None) -> tuple[int, str, bytes]:
    document = {"error": error, **({"error_description": description} if description else {})}
    return status, "application/json", json.dumps(document).encode()
