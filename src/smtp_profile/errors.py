"""One exception tree for the whole service, and the catalogue that maps it to HTTP.

Routes, the service layer and the CLI raise these; exactly one table
(:data:`CATALOGUE`) decides the HTTP status and the stable ``ErrorCode``.
"""

from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """Root of every error the service reports to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(ServiceError):
    """The request itself is unacceptable (headers, encoding, size)."""


class MissingRequestedWith(RequestError):
    """The ``X-Keyfactor-Requested-With`` header is absent or empty."""


class UnsupportedApiVersion(RequestError):
    """``X-Keyfactor-Api-Version`` names a version this service does not speak."""


class MalformedBody(RequestError):
    """The body cannot be decoded (bad JSON, not an object, bad form encoding)."""


class DuplicateProperty(RequestError):
    """The same property appears twice (possibly with different letter case)."""


class PayloadTooLarge(RequestError):
    """The body is larger than the configured limit."""


class UnsupportedMediaType(RequestError):
    """The body's content type is not one the endpoint accepts."""


class InvalidField(ServiceError):
    """One field breaks one rule; ``rule`` selects the ErrorCode."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


class StoredPasswordNotReusable(InvalidField):
    """A PUT/Test left a secret out but none is stored, or the destination changed (spec §5).

    ``field`` is ``RelayPassword`` in version 1; in version 2 also ``RelayUsername``,
    ``ClientId`` or ``ClientSecret``.
    """

    def __init__(self, message: str, field: str = "RelayPassword") -> None:
        super().__init__(field, "required", message)


StoredSecretNotReusable = StoredPasswordNotReusable


class AuthenticationRequired(ServiceError):
    """No credentials, or credentials that do not match a user."""


class PermissionDenied(ServiceError):
    """Authenticated, but the role does not allow the operation."""


class CsrfRejected(PermissionDenied):
    """A state-changing request authenticated by the web session cookie came without
    the page's CSRF headers (``X-Keyfactor-Requested-With: XMLHttpRequest`` and the
    session's ``X-CSRF-Token``)."""


class NotFound(ServiceError):
    """Unknown path."""


class MethodNotAllowed(ServiceError):
    """Known path, wrong method."""


class PreconditionFailed(ServiceError):
    """``If-Match`` no longer matches the stored profile."""


class RateLimited(ServiceError):
    """Too many requests; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigurationError(ServiceError):
    """A setting, key file or database is unusable; the process must not start."""


class SecretUnreadable(ConfigurationError):
    """A stored secret cannot be decrypted with the configured key(s)."""


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """How one kind of failure is presented: HTTP status and stable code."""

    status: int
    code: str


# Field-rule codes: one per rule, whatever the field (the Message names the field).
FIELD_RULE_CODES: dict[str, str] = {
    "required": "0xA0100010",
    "type": "0xA0100011",
    "range": "0xA0100012",
    "format": "0xA0100013",
    "control": "0xA0100014",
    "length": "0xA0100015",
    "value": "0xA0100016",
    # Secret references (API version 2): the Provider, what it may read, whether it reads.
    "provider": "0xA0100017",
    "reference": "0xA0100018",
    "unresolvable": "0xA0100019",
}

CATALOGUE: dict[type[ServiceError], ErrorEntry] = {
    MissingRequestedWith: ErrorEntry(400, "0xA0100001"),
    UnsupportedApiVersion: ErrorEntry(400, "0xA0100002"),
    MalformedBody: ErrorEntry(400, "0xA0100003"),
    DuplicateProperty: ErrorEntry(400, "0xA0100004"),
    StoredPasswordNotReusable: ErrorEntry(400, "0xA0100020"),
    AuthenticationRequired: ErrorEntry(401, "0xA0200001"),
    PermissionDenied: ErrorEntry(403, "0xA0200002"),
    CsrfRejected: ErrorEntry(403, "0xA0200003"),
    NotFound: ErrorEntry(404, "0xA0300001"),
    MethodNotAllowed: ErrorEntry(405, "0xA0300002"),
    PayloadTooLarge: ErrorEntry(413, "0xA0300003"),
    UnsupportedMediaType: ErrorEntry(415, "0xA0300004"),
    PreconditionFailed: ErrorEntry(412, "0xA0300005"),
    RateLimited: ErrorEntry(429, "0xA0300006"),
    ConfigurationError: ErrorEntry(500, "0xA0500001"),
    ServiceError: ErrorEntry(500, "0xA0500000"),
}


def entry_for(error: ServiceError) -> ErrorEntry:
    """The catalogue entry of ``error``: its own class first, then its ancestors."""
    if isinstance(error, InvalidField) and type(error) is InvalidField:
        return ErrorEntry(400, FIELD_RULE_CODES[error.rule])
    for cls in type(error).__mro__:
        found = CATALOGUE.get(cls)
        if found is not None:
            return found
    return CATALOGUE[ServiceError]


# A failed Test answers 400; its ErrorCode names the step that failed.
STAGE_CODES: dict[str, str] = {
    "config": "0xA0400000",
    "resolve": "0xA0400001",
    "connect": "0xA0400002",
    "tls": "0xA0400003",
    "greeting": "0xA0400004",
    "ehlo": "0xA0400005",
    "auth": "0xA0400006",
    "mail": "0xA0400007",
    "rcpt": "0xA0400008",
    "data": "0xA0400009",
    "quit": "0xA040000A",
    "token": "0xA040000C",
}
