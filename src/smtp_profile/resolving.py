"""Name resolution with an injectable resolver, shared by relay and token connections.

Tests inject a resolver (and so never resolve outside names); the connections use
the addresses returned here to decide on the egress policy themselves.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

Resolver = Callable[[str, int], Awaitable[list[str]]]


class HostNotFound(Exception):
    """The name does not resolve (or resolves to nothing)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def system_resolver(host: str, port: int) -> list[str]:
    """Addresses for ``host`` from the system resolver, in its order, without repeats."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def lookup(host: str, port: int, resolver: Resolver) -> list[str]:
    """The addresses to try; an IP literal (bracketed or not) is used as it is."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        return [bare]
    except ValueError:
        pass
    try:
        addresses = await resolver(bare, port)
    except (socket.gaierror, OSError) as exc:
        raise HostNotFound(f"the host name {bare} does not resolve ({exc})") from None
    if not addresses:
        raise HostNotFound(f"{bare} has no address")
    return addresses
