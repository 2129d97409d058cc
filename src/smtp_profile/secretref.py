"""Secret objects (API version 2): a secret given as its value, or a reference that is
resolved when it is used. Pure: parsing and showing; resolving is
:mod:`smtp_profile.secret_sources`.

On the wire a secret is ``{"SecretValue": string|null, "Provider": int|string|null,
"Parameters": {string: string}|null}``; a bare string is short for
``{"SecretValue": string}``. Member and parameter names match in any letter case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from smtp_profile import rules
from smtp_profile.errors import InvalidField
from smtp_profile.secret import Secret
from smtp_profile.wire import members

MAX_PARAMETER_LENGTH = 4096
SECRET_MEMBERS = ("SecretValue", "Provider", "Parameters")


class ProviderKind(StrEnum):
    ENVIRONMENT = "environment"
    FILE = "file"
    COMMAND = "command"


PROVIDER_NUMBERS: dict[ProviderKind, int] = {
    ProviderKind.ENVIRONMENT: 1,
    ProviderKind.FILE: 2,
    ProviderKind.COMMAND: 3,
}
_BY_NAME: dict[str, ProviderKind] = {
    **{kind.value: kind for kind in ProviderKind},
    "env": ProviderKind.ENVIRONMENT,
    **{str(number): kind for kind, number in PROVIDER_NUMBERS.items()},
}
# The one parameter each provider reads.
PARAMETER: dict[ProviderKind, str] = {
    ProviderKind.ENVIRONMENT: "Name",
    ProviderKind.FILE: "Path",
    ProviderKind.COMMAND: "Name",
}


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret comes from; not secret itself (shown in responses and the audit)."""

    provider: str  # a ProviderKind value, or the text given for an unknown provider
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def kind(self) -> ProviderKind | None:
        return _BY_NAME.get(self.provider)

    def parameter(self, name: str) -> str | None:
        return dict(self.parameters).get(name)

    @property
    def target(self) -> str:
        """The variable, path or command name it reads ('' for an unknown provider)."""
        kind = self.kind
        return (self.parameter(PARAMETER[kind]) or "") if kind is not None else ""

    def as_json(self) -> dict[str, Any]:
        kind = self.kind
        provider: int | str = PROVIDER_NUMBERS[kind] if kind is not None else self.provider
        return {"Provider": provider, "Parameters": dict(self.parameters)}

    def describe(self) -> str:
        kind = self.kind
        if kind is ProviderKind.ENVIRONMENT:
            return f"environment variable {self.target}"
        if kind is ProviderKind.FILE:
            return f"file {self.target}"
        if kind is ProviderKind.COMMAND:
            return f"command {self.target}"
        return f"provider {self.provider}"

    def dumps(self) -> str:
        """The stored form (a JSON text column)."""
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> SecretRef | None:
        if not text:
            return None
        document = json.loads(text)
        provider = str(document["Provider"])
        kind = _BY_NAME.get(provider.lower())
        parameters = tuple(sorted((str(k), str(v)) for k, v in document["Parameters"].items()))
        return cls(kind.value if kind is not None else provider, parameters)


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """What a request says about one secret field: a value, a reference, or nothing
    (then a stored one may be kept, see :mod:`smtp_profile.secret_plan`)."""

    value: Secret | None = None
    ref: SecretRef | None = None

    @property
    def omitted(self) -> bool:
        return self.value is None and self.ref is None


OMITTED = SecretSpec()


def secret_view(value_stored: bool, ref: SecretRef | None) -> dict[str, Any] | None:
    """A secret in a response: never its value; ``None`` when nothing is configured."""
    if ref is not None:
        return {"SecretValue": None, **ref.as_json()}
    if value_stored:
        return {"SecretValue": None, "Provider": None, "Parameters": None}
    return None


def parse_secret(field: str, raw: object) -> SecretSpec:
    """One secret object (or a bare string) into a :class:`SecretSpec`."""
    if raw is None or isinstance(raw, str):
        text = rules.coerce_text(field, raw)
        return SecretSpec(value=Secret(text)) if text is not None else OMITTED
    if not isinstance(raw, Mapping):
        raise InvalidField(
            field,
            "type",
            f"{field} must be an object {{SecretValue, Provider, Parameters}} or a string.",
        )
    found = members(raw, SECRET_MEMBERS)
    value = rules.coerce_text(field, found.get("SecretValue"))
    provider = _provider(field, found.get("Provider"))
    parameters = found.get("Parameters")
    if provider is None:
        if parameters not in (None, "") and not (
            isinstance(parameters, Mapping) and not parameters
        ):
            raise InvalidField(
                field, "value", f"{field}.Parameters is only used together with a Provider."
            )
        return SecretSpec(value=Secret(value)) if value is not None else OMITTED
    if value is not None:
        raise InvalidField(
            field,
            "value",
            f"{field} must give either SecretValue or a Provider with Parameters, not both.",
        )
    return SecretSpec(ref=SecretRef(provider, _parameters(field, provider, parameters)))


def _provider(field: str, raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidField(field, "type", f"{field}.Provider must be a number or a name.")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise InvalidField(field, "type", f"{field}.Provider must be a whole number.")
        raw = int(raw)
    text = str(raw).strip()
    rules.reject_control_characters(field, text)
    if len(text) > 64:
        raise InvalidField(field, "length", f"{field}.Provider must be at most 64 characters.")
    kind = _BY_NAME.get(text.lower())
    return kind.value if kind is not None else text


def _parameters(field: str, provider: str, raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None or raw == "":
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidField(field, "type", f"{field}.Parameters must be an object of strings.")
    kind = _BY_NAME.get(provider)
    if kind is None:  # unknown provider: kept as given, refused when checked
        return tuple(sorted((str(k), str(v)) for k, v in raw.items()))
    name = PARAMETER[kind]
    value = members(raw, (name,)).get(name)
    label = f"{field}.Parameters.{name}"
    if value is None or value == "":
        raise InvalidField(field, "required", f"{label} is required with Provider {provider}.")
    if not isinstance(value, str):
        raise InvalidField(field, "type", f"{label} must be a string.")
    rules.reject_control_characters(field, value)
    if len(value) > MAX_PARAMETER_LENGTH:
        raise InvalidField(
            field, "length", f"{label} must be at most {MAX_PARAMETER_LENGTH} characters."
        )
    return ((name, value),)
