"""Which kind of TLS a profile asks for (spec §4). Pure."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum


class TlsMode(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


def choose_tls_mode(*, use_ssl: bool, port: int, implicit_tls_ports: Collection[int]) -> TlsMode:
    """UseSSL on an implicit-TLS port: TLS from the first byte; elsewhere STARTTLS,
    required; UseSSL off: no TLS at all (no opportunistic upgrade either)."""
    if not use_ssl:
        return TlsMode.NONE
    if port in implicit_tls_ports:
        return TlsMode.IMPLICIT
    return TlsMode.STARTTLS


def describe_tls_mode(mode: TlsMode) -> str:
    return {
        TlsMode.NONE: "no encryption (UseSSL is off)",
        TlsMode.STARTTLS: "plain connection upgraded with STARTTLS (required)",
        TlsMode.IMPLICIT: "TLS from the first byte (implicit TLS)",
    }[mode]
