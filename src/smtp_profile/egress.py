"""Which addresses and ports a Test may connect to (the operator's egress policy). Pure.

The decision is made on the address actually connected to, after resolution,
so a name that resolves differently later (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Link-local ranges and the cloud metadata services that live at fixed addresses.
DEFAULT_DENY: tuple[str, ...] = (
    "169.254.0.0/16",
    "fe80::/10",
    "100.100.100.200/32",
    "fd00:ec2::254/128",
    "0.0.0.0/8",
)


def parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    return tuple(
        ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()
    )


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    deny: tuple[IpNetwork, ...] = field(default_factory=lambda: parse_networks(DEFAULT_DENY))
    allow: tuple[IpNetwork, ...] = ()
    ports: Collection[int] = ()

    def refusal(self, address: str, port: int) -> str | None:
        """Why connecting to ``address:port`` is not allowed, or ``None`` when it is."""
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.ports and port not in self.ports:
            return f"port {port} is not in the allowed ports"
        for network in self.deny:
            if ip.version == network.version and ip in network:
                return f"{address} is in the denied network {network}"
        if self.allow and not any(
            ip.version == network.version and ip in network for network in self.allow
        ):
            return f"{address} is not in an allowed network"
        return None


ALLOW_ALL = EgressPolicy(deny=(), allow=(), ports=())


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (a password to this machine needs no TLS)."""
    if address is None:
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
