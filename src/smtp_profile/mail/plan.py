"""What one test send will do, and what it found. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from smtp_profile.egress import EgressPolicy
from smtp_profile.mail.diagnosis import Failure, Stage, hint_for
from smtp_profile.mail.integrated import ServiceIdentity
from smtp_profile.mail.tlsmode import TlsMode
from smtp_profile.mail.transcript import Transcript
from smtp_profile.oauth.grant import ClientCredentials
from smtp_profile.secret import Secret


class QuitAfter(StrEnum):
    """Probe mode: stop after this step, send nothing, say QUIT."""

    CONNECT = "connect"
    TLS = "tls"
    AUTH = "auth"
    RCPT = "rcpt"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: Secret


@dataclass(frozen=True, slots=True)
class Integrated:
    """Type 1: the service's own identity (configured by the operator, never by a request).

    ``Integrated()`` has no identity configured: the test fails at auth, sending nothing.
    """

    identity: ServiceIdentity = field(default_factory=ServiceIdentity)


class TokenSource(Protocol):
    """Gives a bearer token for a grant: a cached one, or with ``fresh`` a new one.
    Raises ``StepFailed`` (stage ``token``) when the endpoint does not give one."""

    async def token(
        self, grant: ClientCredentials, *, fresh: bool, transcript: Transcript
    ) -> Secret: ...


@dataclass(frozen=True, slots=True)
class OAuthLogin:
    """Type 3: a token from ``grant``, then SASL XOAUTH2 (or OAUTHBEARER) as ``user``."""

    user: str
    grant: ClientCredentials
    tokens: TokenSource


Login = Credentials | Integrated | OAuthLogin


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    command: float
    total: float


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    verify: bool
    ca_file: Path | None


@dataclass(frozen=True, slots=True)
class SendPlan:
    host: str
    port: int
    tls_mode: TlsMode
    tls_policy: TlsPolicy
    login: Login | None
    sender: str
    recipient: str
    message: bytes
    helo_name: str
    timeouts: Timeouts
    allow_cleartext_auth: bool
    smtputf8: bool = False
    implicit_tls_ports: tuple[int, ...] = (465,)
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    quit_after: QuitAfter | None = None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    version: str | None = None
    cipher: str | None = None
    verified: bool = True
    subject: str | None = None
    issuer: str | None = None
    not_after: str | None = None
    verify_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "Version": self.version,
            "Cipher": self.cipher,
            "Verified": self.verified,
            "Subject": self.subject,
            "Issuer": self.issuer,
            "NotAfter": self.not_after,
            "VerifyError": self.verify_error,
        }


@dataclass(slots=True)
class TestOutcome:
    """The result of one test, success or failure, with its diagnosis."""

    success: bool
    stage: Stage
    detail: str
    failure: Failure | None = None
    smtp_code: int | None = None
    smtp_message: str | None = None
    transcript: list[str] = field(default_factory=list)
    duration_ms: int = 0
    tls: TlsInfo | None = None
    connected_address: str | None = None
    stopped_after: QuitAfter | None = None

    @property
    def hint(self) -> str | None:
        return hint_for(self.failure).text() if self.failure is not None else None

    def summary(self) -> str:
        """One sentence naming the step and quoting the server or network error."""
        if self.success:
            if self.stopped_after is not None:
                return f"Probe succeeded: stopped after {self.stopped_after} without sending."
            return "Test message accepted by the relay."
        reply = (
            f" The server answered {self.smtp_code} {' / '.join(self.smtp_message.splitlines())}."
            if self.smtp_code is not None and self.smtp_message is not None
            else ""
        )
        return f"Test failed at step '{self.stage}': {self.detail}.{reply}"
