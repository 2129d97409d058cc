"""Obtaining a token: one client-credentials request, and the broker that caches tokens
and picks the client authentication.

The broker tries ``client_secret_basic`` first (RFC 6749 says every server supports
it) and, when the endpoint answers invalid_client, ``client_secret_post`` once; the
method that worked is remembered for the grant. Library and network errors become a
:class:`~smtp_profile.mail.failures.StepFailed` at the ``token`` step here and nowhere
else. The client secret and the token are registered with the transcript before any
line is written, so neither can appear in it.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore

from smtp_profile import __version__
from smtp_profile.egress import EgressPolicy
from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.failures import StepFailed
from smtp_profile.mail.plan import TlsPolicy
from smtp_profile.mail.tls import client_context, describe_tls_error
from smtp_profile.mail.transcript import Transcript
from smtp_profile.oauth.cache import TokenCache
from smtp_profile.oauth.grant import ClientAuth, ClientCredentials
from smtp_profile.oauth.responses import Token, parse_token_response
from smtp_profile.oauth.transport import (
    EgressCheckedBackend,
    EgressDenied,
    UnknownHost,
    token_egress,
)
from smtp_profile.resolving import Resolver
from smtp_profile.secret import Secret

MAX_RESPONSE_BYTES = 64 * 1024
_USER_AGENT = f"smtp-profile/{__version__}".encode()


@dataclass(frozen=True, slots=True)
class TokenEndpointAccess:
    """How token endpoints are reached: the operator's policies and timeouts."""

    egress: EgressPolicy
    tls: TlsPolicy
    resolver: Resolver
    connect_timeout: float
    timeout: float  # for each read and write, and for the whole request


def _failed(failure: Failure, detail: str) -> StepFailed:
    return StepFailed(Stage.TOKEN, failure, detail)


async def request_token(
    grant: ClientCredentials,
    auth: ClientAuth,
    access: TokenEndpointAccess,
    transcript: Transcript,
) -> Token:
    """POST the client-credentials grant once; never follows a redirect."""
    transcript.add_secret(grant.client_secret.reveal())
    url = urlsplit(grant.token_endpoint)
    backend = EgressCheckedBackend(
        egress=token_egress(access.egress),
        resolver=access.resolver,
        loopback_only=url.scheme.lower() == "http",
        on_connect=lambda address, port: transcript.note(
            f"token: connected to {address} port {port}"
        ),
        on_refuse=lambda reason: transcript.note(f"token: not connecting: {reason}"),
    )
    headers, body = grant.request(auth)
    headers.append((b"User-Agent", _USER_AGENT))
    transcript.note(f"token: POST {grant.token_endpoint} (grant client_credentials, {auth})")
    timeouts = {
        "connect": access.connect_timeout,
        "read": access.timeout,
        "write": access.timeout,
        "pool": access.timeout,
    }
    pool = httpcore.AsyncConnectionPool(
        ssl_context=client_context(access.tls), network_backend=backend, retries=0
    )
    try:
        async with (
            pool,
            asyncio.timeout(access.connect_timeout + access.timeout),
            pool.stream(
                "POST",
                grant.token_endpoint,
                headers=headers,
                content=body,
                extensions={"timeout": timeouts},
            ) as response,
        ):
            status = response.status
            data = await _read_limited(response)
    except StepFailed:
        raise
    except Exception as exc:
        raise _translate(exc, grant.token_endpoint) from None
    transcript.note(f"token: HTTP {status} ({len(data)} bytes)")
    return parse_token_response(status, data)


async def _read_limited(response: httpcore.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_stream():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _failed(
                Failure.TOKEN_BAD_RESPONSE,
                f"the token endpoint's answer is larger than {MAX_RESPONSE_BYTES} bytes",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _translate(exc: Exception, endpoint: str) -> StepFailed:
    """The one place where httpcore's and the network's errors become a diagnosis."""
    if isinstance(exc, UnknownHost):
        return _failed(Failure.TOKEN_UNKNOWN_HOST, f"the token endpoint's host: {exc}")
    if isinstance(exc, EgressDenied):
        return _failed(Failure.TOKEN_EGRESS_DENIED, f"not connecting: {exc} (egress policy)")
    if isinstance(exc, TimeoutError | httpcore.TimeoutException):
        return _failed(Failure.TOKEN_TIMEOUT, f"{endpoint} did not answer in time")
    cause = exc.__cause__
    tls_error = _tls_error(exc)
    if isinstance(exc, httpcore.ConnectError) and tls_error is not None:
        return _failed(
            Failure.TOKEN_TLS_FAILED,
            f"TLS with the token endpoint: {describe_tls_error(tls_error)}",
        )
    if isinstance(exc, httpcore.ConnectError):
        return _failed(Failure.TOKEN_UNREACHABLE, f"cannot connect to {endpoint} ({cause or exc})")
    if isinstance(exc, httpcore.RemoteProtocolError):
        return _failed(Failure.TOKEN_BAD_RESPONSE, f"{endpoint} did not answer in HTTP ({exc})")
    if isinstance(exc, httpcore.NetworkError):
        return _failed(Failure.TOKEN_UNREACHABLE, f"the connection to {endpoint} broke ({exc})")
    return _failed(Failure.TOKEN_BAD_RESPONSE, f"{type(exc).__name__}: {exc}")


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error under httpcore's and anyio's wrappers, if there is one."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, ssl.SSLError):
            break
        seen = seen.__cause__ or seen.__context__
    return seen if isinstance(seen, ssl.SSLError) else None


class TokenBroker:
    """Tokens for a Test: from the cache while fresh, else from the endpoint."""

    def __init__(self, cache: TokenCache, access: TokenEndpointAccess) -> None:
        self.cache, self.access = cache, access

    async def token(
        self, grant: ClientCredentials, *, fresh: bool, transcript: Transcript
    ) -> Secret:
        transcript.add_secret(grant.client_secret.reveal())
        key = self.cache.key(grant)
        if fresh:
            self.cache.forget(key)
        else:
            cached = self.cache.get(key)
            if cached is not None:
                transcript.add_secret(cached.value.reveal())
                remaining = cached.remaining(self.cache.clock())
                transcript.note(f"token: using the cached token (renewed in {remaining:.0f} s)")
                return cached.value
        token = await self._fetch(grant, key, transcript)
        transcript.add_secret(token.value.reveal())
        self.cache.put(key, token)
        transcript.note(f"token: obtained a bearer token valid for {token.lifetime:g} s")
        return token.value

    async def _fetch(self, grant: ClientCredentials, key: str, transcript: Transcript) -> Token:
        known = self.cache.method(key)
        order = [known] if known is not None else [ClientAuth.BASIC, ClientAuth.POST]
        for index, method in enumerate(order):
            try:
                token = await request_token(grant, method, self.access, transcript)
            except StepFailed as failed:
                if failed.failure is Failure.TOKEN_INVALID_CLIENT and index + 1 < len(order):
                    transcript.note(f"token: {failed.detail}; trying {order[index + 1]}")
                    continue
                raise
            self.cache.remember_method(key, method)
            return token
        raise AssertionError("unreachable")  # pragma: no cover
