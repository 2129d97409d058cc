"""Small builders shared by the unit tests (no fixtures, no I/O)."""

from __future__ import annotations

import re

from smtp_profile.errors import InvalidField, entry_for

ERROR_CODE = re.compile(r"^0xA0[0-9A-F]{6}$")

# Every control character class spec §7 names, for the single-line fields.
CONTROL_CHARACTERS: list[tuple[str, str]] = [
    ("NUL", "\x00"),
    ("SOH", "\x01"),
    ("TAB", "\t"),
    ("LF", "\n"),
    ("CR", "\r"),
    ("CRLF", "\r\n"),
    ("ESC", "\x1b"),
    ("US", "\x1f"),
    ("DEL", "\x7f"),
    ("C1-PAD", "\x80"),
    ("C1-NEL", "\x85"),
    ("C1-APC", "\x9f"),
    ("LINE-SEP", "\u2028"),
    ("PARA-SEP", "\u2029"),
]

_REMOVE = object()


def profile_fields(**overrides: object) -> dict[str, object]:
    """A valid PUT body (canonical PascalCase keys); ``REMOVE`` drops a key."""
    fields: dict[str, object] = {
        "Id": 1,
        "Host": "smtp.example.com",
        "Port": 587,
        "RelayAuthenticationType": 0,
        "SenderAccount": "noreply@example.com",
        "SenderName": "Certificate Alerts",
        "UseSSL": True,
    }
    for key, value in overrides.items():
        if value is _REMOVE:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def explicit_fields(**overrides: object) -> dict[str, object]:
    """A valid PUT body with RelayAuthenticationType 2 and credentials."""
    base: dict[str, object] = {
        "RelayAuthenticationType": 2,
        "RelayUsername": "CORP\\svc-mail",
        "RelayPassword": "correct horse battery staple",
    }
    base.update(overrides)
    return profile_fields(**base)


def send_fields(**overrides: object) -> dict[str, object]:
    """A valid Test body."""
    base: dict[str, object] = {"TestRecipient": "ops@example.org"}
    base.update(overrides)
    return profile_fields(**base)


REMOVE = _REMOVE


def assert_invalid(error: InvalidField, field: str, rule: str) -> None:
    """The error names ``field`` (attribute and message) and the ``rule``, maps to a 400
    with a well-formed ErrorCode."""
    assert error.field == field
    assert error.rule == rule
    assert field in error.message
    assert field in str(error)
    entry = entry_for(error)
    assert entry.status == 400
    assert ERROR_CODE.match(entry.code), entry.code
