"""Request decoding: JSON or form bodies into canonical PascalCase fields.

Pure: takes the content type and the raw bytes, returns a mapping. Property
names match case-insensitively; unknown ones are dropped; one given twice is
an error, whatever the case.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import Enum
from urllib.parse import parse_qsl

from smtp_profile.errors import DuplicateProperty, MalformedBody, UnsupportedMediaType


class BodyKind(Enum):
    JSON = "json"
    FORM = "form"


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header ('' when absent)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def body_kind(content_type: str | None, *, allow_form: bool) -> BodyKind:
    kind = media_type(content_type)
    if kind in ("application/json", "text/json") or (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        return BodyKind.JSON
    if allow_form and kind == "application/x-www-form-urlencoded":
        return BodyKind.FORM
    accepted = "application/json" + (" or application/x-www-form-urlencoded" if allow_form else "")
    shown = kind or "none"
    raise UnsupportedMediaType(f"Content-Type {shown} is not supported; send {accepted}.")


def decode_body(
    content_type: str | None, body: bytes, *, known: Sequence[str], allow_form: bool = True
) -> dict[str, object]:
    """Decode ``body`` and keep the ``known`` properties under their canonical names."""
    kind = body_kind(content_type, allow_form=allow_form)
    if not body.strip():
        raise MalformedBody("The request body is empty; send a JSON object.")
    pairs = _json_pairs(body) if kind is BodyKind.JSON else _form_pairs(body)
    return canonical_fields(pairs, known)


def canonical_fields(
    pairs: Iterable[tuple[str, object]], known: Sequence[str]
) -> dict[str, object]:
    by_folded = {name.casefold(): name for name in known}
    fields: dict[str, object] = {}
    seen: dict[str, str] = {}
    for key, value in pairs:
        folded = key.casefold()
        if folded in seen:
            raise DuplicateProperty(
                f"Property {key!r} is given more than once (also as {seen[folded]!r})."
            )
        seen[folded] = key
        canonical = by_folded.get(folded)
        if canonical is not None:
            fields[canonical] = value
    return fields


def _json_pairs(body: bytes) -> list[tuple[str, object]]:
    top: list[tuple[str, object]] | None = None

    def keep_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal top
        top = pairs  # the outermost object is decoded last
        return dict(pairs)

    try:
        text = body.decode("utf-8-sig")
        document = json.loads(text, object_pairs_hook=keep_pairs, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody(f"The request body is not valid JSON: {_short(exc)}") from None
    if not isinstance(document, dict) or top is None:
        raise MalformedBody("The request body must be a JSON object.")
    return top


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def _form_pairs(body: bytes) -> list[tuple[str, object]]:
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody(f"The request body is not valid form encoding: {_short(exc)}") from None
    return [(key, value) for key, value in pairs]


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
