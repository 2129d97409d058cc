"""Query parameters, matched case-insensitively like JSON property names."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from smtp_profile.errors import InvalidField


def query_value(request: Request, name: str) -> str | None:
    """The last value of ``name`` in any letter case; empty means absent."""
    values = [v for k, v in request.query_params.multi_items() if k.lower() == name.lower()]
    return values[-1] if values and values[-1] else None


def query_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    text = query_value(request, name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidField(name, "range", f"{name} must be a whole number from {low} to {high}.")
    return int(text)


def query_time(request: Request, name: str) -> datetime | None:
    text = query_value(request, name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField(
            name, "format", f"{name} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
