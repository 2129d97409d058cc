"""What secret references may read: the operator's lists, checked before anything is read.

Pure. The operator enables a provider by listing what it may read
(``SMTP_PROFILE_SECRET_ENV_ALLOW``, ``SMTP_PROFILE_SECRET_FILE_DIRS``,
``SMTP_PROFILE_SECRET_COMMANDS``); an API user only picks among those, so a request
can never make the service read an arbitrary variable or file, or run a command of
its choosing. Whether a file path stays inside the allowed directories after
symbolic links are resolved is checked where the file is opened
(:mod:`smtp_profile.secret_sources`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from smtp_profile.errors import InvalidField
from smtp_profile.mail.diagnosis import Failure
from smtp_profile.secretref import ProviderKind, SecretRef

OWN_PREFIX = "SMTP_PROFILE_"  # the service's own settings are never readable as secrets


class SecretProblem(Exception):
    """A reference that is not allowed or cannot be read. ``rule`` selects the ErrorCode
    of a PUT (400); ``failure`` the diagnosis of a Test."""

    def __init__(self, field: str, failure: Failure, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.failure, self.rule, self.message = field, failure, rule, message

    def invalid_field(self) -> InvalidField:
        return InvalidField(self.field, self.rule, self.message)


@dataclass(frozen=True, slots=True)
class SecretPolicy:
    env_allow: frozenset[str] = frozenset()  # names, or prefixes ending in '*'
    file_dirs: tuple[str, ...] = ()  # absolute directories
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    command_timeout: float = 10.0
    max_bytes: int = 16384

    def allows_variable(self, name: str) -> bool:
        if name.upper().startswith(OWN_PREFIX):
            return False
        return any(
            name.startswith(entry[:-1]) if entry.endswith("*") else name == entry
            for entry in self.env_allow
        )


def check_reference(field: str, ref: SecretRef, policy: SecretPolicy) -> None:
    """Raise :class:`SecretProblem` when ``ref`` names no enabled provider or reads
    something the operator did not list."""
    kind = ref.kind
    if kind is None:
        raise SecretProblem(
            field,
            Failure.SECRET_PROVIDER_UNKNOWN,
            "provider",
            f"{field}: Provider {ref.provider!r} is not known; use 1 (environment variable), "
            "2 (file) or 3 (command), or give the secret in SecretValue.",
        )
    _check_enabled(field, kind, policy)
    target = ref.target
    if kind is ProviderKind.ENVIRONMENT and not policy.allows_variable(target):
        raise SecretProblem(
            field,
            Failure.SECRET_ENV_NOT_ALLOWED,
            "reference",
            f"{field}: the environment variable {target!r} is not one the operator allows "
            "(SMTP_PROFILE_SECRET_ENV_ALLOW).",
        )
    if kind is ProviderKind.FILE and not PurePosixPath(target).is_absolute():
        raise SecretProblem(
            field,
            Failure.SECRET_FILE_NOT_ALLOWED,
            "reference",
            f"{field}: Parameters.Path must be an absolute path inside a directory of "
            "SMTP_PROFILE_SECRET_FILE_DIRS.",
        )
    if kind is ProviderKind.COMMAND and target not in policy.commands:
        raise SecretProblem(
            field,
            Failure.SECRET_COMMAND_UNKNOWN,
            "reference",
            f"{field}: no command named {target!r} is configured "
            "(SMTP_PROFILE_SECRET_COMMANDS names the commands an API user may pick).",
        )


_SETTING = {
    ProviderKind.ENVIRONMENT: ("environment variables", "SMTP_PROFILE_SECRET_ENV_ALLOW"),
    ProviderKind.FILE: ("files", "SMTP_PROFILE_SECRET_FILE_DIRS"),
    ProviderKind.COMMAND: ("commands", "SMTP_PROFILE_SECRET_COMMANDS"),
}


def _check_enabled(field: str, kind: ProviderKind, policy: SecretPolicy) -> None:
    enabled = {
        ProviderKind.ENVIRONMENT: bool(policy.env_allow),
        ProviderKind.FILE: bool(policy.file_dirs),
        ProviderKind.COMMAND: bool(policy.commands),
    }[kind]
    if not enabled:
        what, setting = _SETTING[kind]
        raise SecretProblem(
            field,
            Failure.SECRET_PROVIDER_DISABLED,
            "provider",
            f"{field}: secrets from {what} are not enabled on this server (the operator "
            f"enables them with {setting}).",
        )
