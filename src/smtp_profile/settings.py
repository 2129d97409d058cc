"""Operator settings, read once from ``SMTP_PROFILE_*`` environment variables."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from smtp_profile.egress import DEFAULT_DENY, EgressPolicy, parse_networks
from smtp_profile.errors import ConfigurationError
from smtp_profile.secret_policy import OWN_PREFIX, SecretPolicy

_VARIABLE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\*?$")
_COMMAND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Settings(BaseSettings):
    """Every setting is also an environment variable ``SMTP_PROFILE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SMTP_PROFILE_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        Path("./var"), description="Directory for the SQLite database and key file."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite in DATA_DIR. PostgreSQL: postgresql+psycopg://...",
    )
    secret_key_file: Path | None = Field(
        None,
        description="Key file (Fernet keys, one per line); "
        "default DATA_DIR/secret.key, created 0600.",
    )
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `serve` listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    ca_file: Path | None = Field(
        None, description="Extra CA bundle (PEM) trusted for relay certificates."
    )
    tls_verify: bool = Field(True, description="Verify relay certificates and host names.")
    implicit_tls_ports: Annotated[frozenset[int], NoDecode] = Field(
        frozenset({465}),
        description="Ports where UseSSL means TLS from the first byte (comma list).",
    )
    allow_cleartext_auth: bool = Field(
        False, description="Allow sending a password without TLS to a non-loopback relay."
    )
    connect_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds to wait for TCP connect."
    )
    command_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds to wait for each SMTP reply."
    )
    test_timeout: float = Field(15.0, gt=0, le=600, description="Seconds a whole Test may take.")
    helo_name: str = Field(
        default_factory=socket.gethostname, description="Name sent in EHLO/HELO."
    )
    max_body_bytes: int = Field(65536, ge=1024, description="Largest accepted request body.")
    auth_cache_seconds: float = Field(
        30.0, ge=0, le=3600, description="How long a verified API login is remembered in memory."
    )
    session_seconds: float = Field(
        8 * 3600.0,
        gt=0,
        le=30 * 24 * 3600,
        description="How long a web page sign-in (session cookie) lasts before signing in again.",
    )

    test_rate_limit: int = Field(
        10, ge=0, description="Tests one user may run per TEST_RATE_WINDOW seconds (0: no limit)."
    )
    test_rate_window: float = Field(60.0, gt=0, description="Window of TEST_RATE_LIMIT, seconds.")
    signin_failure_limit: int = Field(
        5,
        ge=0,
        description="Failed sign-ins per user and address before further tries get 429 "
        "for SIGNIN_FAILURE_WINDOW seconds (0: no limit).",
    )
    signin_failure_window: float = Field(
        300.0, gt=0, description="Window of SIGNIN_FAILURE_LIMIT, seconds."
    )
    egress_deny: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_DENY,
        description="Networks a Test may never connect to (comma list of CIDRs; default: "
        "link-local and cloud metadata addresses).",
    )
    egress_allow: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="If set, the only networks a Test may connect to (comma list of CIDRs)."
    )
    egress_ports: Annotated[frozenset[int], NoDecode] = Field(
        frozenset(), description="If set, the only ports a Test may connect to (comma list)."
    )

    # Integrated authentication (RelayAuthenticationType 1): the service's own identity.
    kerberos_principal: str | None = Field(
        None,
        pattern=r"^[^\s@]+(@[^\s@]+)?$",
        description="The service's Kerberos principal, e.g. smtp-profile@EXAMPLE.COM.",
    )
    kerberos_keytab: Path | None = Field(
        None, description="Client keytab holding the key of KERBEROS_PRINCIPAL."
    )
    kerberos_ccache: str | None = Field(
        None,
        pattern=r"^\S+$",
        description="Ticket cache (e.g. FILE:/var/lib/smtp-profile/krb5cc); default: a private "
        "in-memory cache filled from KERBEROS_KEYTAB.",
    )
    kerberos_service: str = Field(
        "smtp",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Service part of the relay's principal: <service>/<Host>@REALM.",
    )
    ntlm_username: str | None = Field(
        None,
        pattern=r"^[^\x00-\x1f\x7f:]+$",
        description="NTLM service account: DOMAIN\\user or user@domain.",
    )
    ntlm_password_file: Path | None = Field(
        None, description="File holding NTLM_USERNAME's password (first line), read when used."
    )
    integrated_relay_hosts: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        description="If set, the only relay hosts (comma list) the service's own identity "
        "logs in to.",
    )

    # Secret references (API version 2): what a request may make the service read.
    secret_env_allow: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        description="Environment variables a secret may come from (comma list of names, or "
        "prefixes ending in '*'); empty: the environment provider is off.",
    )
    secret_file_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(
        (),
        description="Directories a secret file may be in (comma list of absolute paths; "
        "symbolic links are resolved); empty: the file provider is off.",
    )
    secret_commands: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description='Commands a secret may come from, as JSON {"name": ["/path/cmd", "arg"]}; '
        "a request picks a name, never an argv; empty: the command provider is off.",
    )
    secret_command_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds a secret command may run."
    )
    secret_max_bytes: int = Field(
        16384, ge=64, le=1 << 20, description="Largest secret file or command output, bytes."
    )

    @field_validator("secret_env_allow", mode="before")
    @classmethod
    def _split_variables(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple | set | frozenset):
            for entry in value:
                if not _VARIABLE_PATTERN.match(str(entry)):
                    raise ValueError(f"{entry!r} is not a variable name or a prefix ending in '*'")
                if str(entry).upper().startswith(OWN_PREFIX):
                    raise ValueError(f"{entry!r}: the service's own settings are never secrets")
            return frozenset(str(entry) for entry in value)
        return value

    @field_validator("secret_file_dirs", mode="before")
    @classmethod
    def _split_directories(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            for entry in value:
                if not Path(entry).is_absolute():
                    raise ValueError(f"{entry!r} is not an absolute directory")
            return tuple(Path(entry) for entry in value)
        return value

    @field_validator("secret_commands")
    @classmethod
    def _check_commands(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, argv in value.items():
            if not _COMMAND_NAME.match(name):
                raise ValueError(f"{name!r} is not a command name (letters, digits, . _ -)")
            if not argv or not all(argv):
                raise ValueError(f"the command {name!r} needs a non-empty argv list")
        return value

    @field_validator("egress_deny", "egress_allow", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, tuple | list):
            parse_networks(value)  # raises ValueError naming the bad network
            return tuple(value)
        return value

    @field_validator(
        "kerberos_principal",
        "kerberos_keytab",
        "kerberos_ccache",
        "ntlm_username",
        "ntlm_password_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("integrated_relay_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(
                str(part).strip().strip("[]").rstrip(".").lower()
                for part in value
                if str(part).strip()
            )
        return value

    @field_validator("implicit_tls_ports", "egress_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("implicit_tls_ports", "egress_ports")
    @classmethod
    def _check_ports(cls, value: frozenset[int]) -> frozenset[int]:
        if any(not 1 <= port <= 65535 for port in value):
            raise ValueError("every port must be between 1 and 65535")
        return value

    @property
    def egress_policy(self) -> EgressPolicy:
        return EgressPolicy(
            deny=parse_networks(self.egress_deny),
            allow=parse_networks(self.egress_allow),
            ports=self.egress_ports,
        )

    @property
    def secret_policy(self) -> SecretPolicy:
        return SecretPolicy(
            env_allow=self.secret_env_allow,
            file_dirs=tuple(str(directory) for directory in self.secret_file_dirs),
            commands=dict(self.secret_commands),
            command_timeout=self.secret_command_timeout,
            max_bytes=self.secret_max_bytes,
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'smtp-profile.db').resolve()}"

    @property
    def resolved_key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def uses_embedded_database(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read the environment; a bad value stops the process with the setting's name."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"SMTP_PROFILE_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"Invalid setting: {problems}") from None
