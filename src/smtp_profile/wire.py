"""Request decoding: JSON or form bodies into canonical PascalCase fields.

Pure: takes the content type and the raw bytes, returns a mapping. Property
names match case-insensitively; unknown ones are dropped; one given twice is
an error, whatever the case. Nested JSON objects (the secret objects of API
version 2) are :class:`JsonObject` values that keep their members in order, so
the same rules apply inside them (:func:`members`). In a form body a nested
member is written with dots: ``RelayPassword.Provider=file``,
``RelayPassword.Parameters.Path=/run/secrets/smtp`` (``nested=True``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from urllib.parse import parse_qsl

from smtp_profile.errors import DuplicateProperty, MalformedBody, UnsupportedMediaType


class JsonObject(dict[str, object]):
    """A decoded object that also remembers its members as given (duplicates included)."""

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def members(value: Mapping[str, object], known: Sequence[str]) -> dict[str, object]:
    """The ``known`` members of a nested object under their canonical names."""
    pairs = value.pairs if isinstance(value, JsonObject) else list(value.items())
    return canonical_fields(pairs, known)


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
    content_type: str | None,
    body: bytes,
    *,
    known: Sequence[str],
    allow_form: bool = True,
    nested: bool = False,
) -> dict[str, object]:
    """Decode ``body`` and keep the ``known`` properties under their canonical names.

    ``nested``: dotted form names build nested objects (API version 2).
    """
    kind = body_kind(content_type, allow_form=allow_form)
    if not body.strip():
        raise MalformedBody("The request body is empty; send a JSON object.")
    if kind is BodyKind.JSON:
        pairs = _json_pairs(body)
    else:
        pairs = _form_pairs(body)
        if nested:
            pairs = _nest(pairs)
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
        return JsonObject(pairs)

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


def _nest(pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """``A.B.C=v`` form fields into nested :class:`JsonObject` values (``A: {B: {C: v}}``).

    A plain ``A=v`` next to dotted ``A.B`` fields is refused as a duplicate.
    """
    top: list[tuple[str, object]] = []
    groups: dict[str, list[tuple[str, object]]] = {}
    for key, value in pairs:
        head, dot, rest = key.partition(".")
        if not dot or not head or not rest:
            top.append((key, value))
            continue
        folded = head.casefold()
        if folded not in groups:
            groups[folded] = []
            top.append((head, groups[folded]))
        groups[folded].append((rest, value))
    return [
        (key, JsonObject(_nest(value)) if isinstance(value, list) else value) for key, value in top
    ]


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
