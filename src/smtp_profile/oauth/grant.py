"""The client-credentials grant (RFC 6749 §4.4): what is sent to the token endpoint. Pure."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote_plus, urlencode

from smtp_profile.secret import Secret


class ClientAuth(StrEnum):
    """How the client authenticates to the token endpoint (RFC 6749 §2.3.1)."""

    BASIC = "client_secret_basic"  # HTTP Basic with the form-encoded id and secret
    POST = "client_secret_post"  # client_id and client_secret in the form body


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    token_endpoint: str
    client_id: str
    client_secret: Secret
    scope: str | None = None
    audience: str | None = None

    def request(self, auth: ClientAuth) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """Headers and form body of the token request."""
        form = [("grant_type", "client_credentials")]
        if self.scope:
            form.append(("scope", self.scope))
        if self.audience:
            form.append(("audience", self.audience))
        headers = [
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"Accept", b"application/json"),
        ]
        if auth is ClientAuth.BASIC:
            pair = ":".join(
                quote_plus(part, safe="") for part in (self.client_id, self.client_secret.reveal())
            )
            encoded = base64.b64encode(pair.encode()).decode("ascii")
            headers.append((b"Authorization", f"Basic {encoded}".encode("ascii")))
        else:
            form += [("client_id", self.client_id), ("client_secret", self.client_secret.reveal())]
        return headers, urlencode(form).encode("ascii")
