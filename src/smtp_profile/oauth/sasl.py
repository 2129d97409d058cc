"""SASL XOAUTH2 and OAUTHBEARER (RFC 7628) initial responses. Pure.

Both carry the bearer token, so the whole AUTH line is redacted in the transcript.
"""

from __future__ import annotations

import base64
from enum import StrEnum

# The client's answer to an error challenge: XOAUTH2 expects an empty line,
# OAUTHBEARER a single %x01 (RFC 7628 §3.2.3).
XOAUTH2_ABORT = b""
OAUTHBEARER_ABORT = base64.b64encode(b"\x01")


class OAuthMechanism(StrEnum):
    XOAUTH2 = "XOAUTH2"
    OAUTHBEARER = "OAUTHBEARER"


PREFERENCE = (OAuthMechanism.XOAUTH2, OAuthMechanism.OAUTHBEARER)


def choose(offered: str) -> OAuthMechanism | None:
    """The first of XOAUTH2, OAUTHBEARER that the EHLO ``AUTH`` line offers."""
    names = {name.upper() for name in offered.split()}
    return next((mechanism for mechanism in PREFERENCE if mechanism.value in names), None)


def xoauth2(user: str, token: str) -> bytes:
    """``base64("user=" user ^A "auth=Bearer " token ^A ^A)``."""
    return base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode())


def _saslname(user: str) -> str:
    return user.replace("=", "=3D").replace(",", "=2C")


def oauthbearer(user: str, token: str, *, host: str, port: int) -> bytes:
    """RFC 7628 §3.1: GS2 header with the authorization identity, then key/value pairs."""
    message = f"n,a={_saslname(user)},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(message.encode())


def abort_response(mechanism: OAuthMechanism) -> bytes:
    return XOAUTH2_ABORT if mechanism is OAuthMechanism.XOAUTH2 else OAUTHBEARER_ABORT


def initial_response(
    mechanism: OAuthMechanism, user: str, token: str, *, host: str, port: int
) -> bytes:
    if mechanism is OAuthMechanism.XOAUTH2:
        return xoauth2(user, token)
    return oauthbearer(user, token, host=host, port=port)
