"""The token endpoint's answer: a bearer token and its lifetime, or a classified failure.
Pure (RFC 6749 §5.1 and §5.2)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.failures import StepFailed
from smtp_profile.secret import Secret

DEFAULT_LIFETIME = 300.0  # seconds, when the endpoint does not say (expires_in is optional)
MAX_DESCRIPTION = 300
# RFC 6750 b64token, as used in "Authorization: Bearer" and the SASL mechanisms.
_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


@dataclass(frozen=True, slots=True)
class Token:
    value: Secret
    lifetime: float  # seconds from when it was obtained


def _failed(failure: Failure, detail: str) -> StepFailed:
    return StepFailed(Stage.TOKEN, failure, detail)


def parse_token_response(status: int, body: bytes) -> Token:
    """The token from a 200 answer; any other answer raises a classified ``StepFailed``."""
    document = _json_object(body)
    if status == 200:
        if document is None:
            raise _failed(Failure.TOKEN_BAD_RESPONSE, "the token endpoint's answer is not JSON")
        return _token(document)
    if 300 <= status < 400:
        raise _failed(
            Failure.TOKEN_SERVER_ERROR,
            f"the token endpoint answered with a redirect ({status}); redirects are not followed",
        )
    if (
        status in (400, 401, 403)
        and document is not None
        and isinstance(document.get("error"), str)
    ):
        raise _oauth_error(status, document)
    if status == 401:
        raise _failed(Failure.TOKEN_INVALID_CLIENT, "the token endpoint answered 401")
    if 400 <= status < 500:
        raise _failed(Failure.TOKEN_REFUSED, f"the token endpoint answered {status}")
    raise _failed(Failure.TOKEN_SERVER_ERROR, f"the token endpoint answered {status}")


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _token(document: dict[str, object]) -> Token:
    value = document.get("access_token")
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise _failed(
            Failure.TOKEN_BAD_RESPONSE, "the token endpoint's answer has no usable access_token"
        )
    token_type = document.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise _failed(
            Failure.TOKEN_BAD_RESPONSE,
            f"the token endpoint issued a token of type {str(token_type)[:40]!r}, not Bearer",
        )
    return Token(Secret(value), _lifetime(document.get("expires_in")))


def _lifetime(raw: object) -> float:
    if isinstance(raw, bool):
        return DEFAULT_LIFETIME
    if isinstance(raw, int | float):
        seconds = float(raw)
    elif isinstance(raw, str) and raw.strip().isdigit():
        seconds = float(raw.strip())
    else:
        return DEFAULT_LIFETIME
    return seconds if seconds > 0 else DEFAULT_LIFETIME


def _oauth_error(status: int, document: dict[str, object]) -> StepFailed:
    error = str(document["error"])[:64]
    description = document.get("error_description")
    said = f": {str(description)[:MAX_DESCRIPTION]}" if description else ""
    detail = f"the token endpoint refused the request ({status} {error}{said})"
    if error in ("invalid_client", "unauthorized_client"):
        return _failed(Failure.TOKEN_INVALID_CLIENT, detail)
    if error == "invalid_scope" or error == "invalid_target":
        return _failed(Failure.TOKEN_INVALID_SCOPE, detail)
    return _failed(Failure.TOKEN_REFUSED, detail)
