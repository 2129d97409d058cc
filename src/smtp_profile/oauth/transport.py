"""An httpcore network backend that decides on the address it actually connects to.

The token endpoint is chosen by an API user, so it is a server-side request forgery
vector. This backend resolves the host itself, checks the operator's egress policy on
every address, and connects to a checked address; httpcore then starts TLS with the
URL's host name, so the certificate is still verified for that name. A name that
resolves differently later (DNS rebinding) changes nothing: the check is on the
socket's address.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable

import httpcore

from smtp_profile.egress import EgressPolicy, is_loopback
from smtp_profile.resolving import HostNotFound, Resolver, lookup

HTTPS_PORT = 443


class EgressDenied(Exception):
    """No address of the host may be connected to; nothing was sent."""


class UnknownHost(Exception):
    """The host name does not resolve."""


def token_egress(policy: EgressPolicy) -> EgressPolicy:
    """The relay's policy for token endpoints: the same networks, and when the operator
    lists ports (e.g. 25,465,587), 443 besides them."""
    ports = frozenset(policy.ports) | {HTTPS_PORT} if policy.ports else frozenset()
    return EgressPolicy(deny=policy.deny, allow=policy.allow, ports=ports)


class EgressCheckedBackend(httpcore.AsyncNetworkBackend):
    def __init__(
        self,
        *,
        egress: EgressPolicy,
        resolver: Resolver,
        loopback_only: bool = False,
        inner: httpcore.AsyncNetworkBackend | None = None,
        on_connect: Callable[[str, int], None] | None = None,
        on_refuse: Callable[[str], None] | None = None,
    ) -> None:
        self._egress, self._resolver = egress, resolver
        self._loopback_only = loopback_only
        self._inner = inner or httpcore.AnyIOBackend()
        self._on_connect, self._on_refuse = on_connect, on_refuse

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        refusals: list[str] = []
        last_error: Exception | None = None
        for address in await self._addresses(host, port):
            refusal = self._refusal(address, port)
            if refusal is not None:
                refusals.append(refusal)
                if self._on_refuse is not None:
                    self._on_refuse(refusal)
                continue
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            if self._on_connect is not None:
                self._on_connect(address, port)
            return stream
        if last_error is not None:
            raise last_error
        raise EgressDenied("; ".join(refusals) or "no address to connect to")

    async def _addresses(self, host: str, port: int) -> list[str]:
        try:
            return await lookup(host, port, self._resolver)
        except HostNotFound as exc:
            raise UnknownHost(exc.detail) from None

    def _refusal(self, address: str, port: int) -> str | None:
        if self._loopback_only and not is_loopback(address):
            return f"{address} is not this machine (http is allowed to loopback only)"
        return self._egress.refusal(address, port)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressDenied("unix sockets are not token endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
