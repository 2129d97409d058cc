"""What can go wrong in a Test: the steps (:class:`Stage`), the failure classes
(:class:`Failure`) and the shape of a hint. Pure data; the hints themselves live in
``hints_relay`` and ``hints_oauth``, and :mod:`smtp_profile.mail.diagnosis` joins them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    CONFIG = "config"
    RESOLVE = "resolve"
    CONNECT = "connect"
    TLS = "tls"
    GREETING = "greeting"
    EHLO = "ehlo"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    QUIT = "quit"
    # Type 3: obtaining the OAuth token. Kept last: the CLI exit codes follow this order.
    TOKEN = "token"  # noqa: S105 - a step name


class Failure(StrEnum):
    UNKNOWN_HOST = "unknown-host"
    REFUSED = "connection-refused"
    UNREACHABLE = "unreachable"
    CONNECT_TIMEOUT = "connect-timeout"
    EGRESS_DENIED = "egress-denied"
    NO_GREETING = "no-greeting"
    NO_GREETING_IMPLICIT_PORT = "no-greeting-implicit-port"
    TLS_ON_PLAIN_PORT = "tls-on-plain-port"
    TLS_TIMEOUT = "tls-timeout"
    STARTTLS_NOT_OFFERED = "starttls-not-offered"
    STARTTLS_REFUSED = "starttls-refused"
    CERT_UNTRUSTED = "certificate-untrusted"
    CERT_EXPIRED = "certificate-expired"
    CERT_WRONG_NAME = "certificate-wrong-name"
    TLS_FAILED = "tls-failed"
    GREETING_REFUSED = "greeting-refused"
    EHLO_REFUSED = "ehlo-refused"
    CLEARTEXT_AUTH_REFUSED = "cleartext-auth-refused"
    AUTH_NOT_OFFERED = "auth-not-offered"
    AUTH_ONLY_AFTER_TLS = "auth-only-after-tls"
    NO_COMMON_MECHANISM = "no-common-mechanism"
    AUTH_FAILED = "auth-failed"
    AUTH_NEEDS_ENCRYPTION = "auth-needs-encryption"
    AUTH_TEMPORARY = "auth-temporary"
    INTEGRATED_NOT_CONFIGURED = "integrated-not-configured"
    KERBEROS_PRINCIPAL_NOT_SET = "integrated-kerberos-principal-not-set"
    KERBEROS_KEYTAB_NOT_SET = "integrated-kerberos-keytab-not-set"
    NTLM_USERNAME_NOT_SET = "integrated-ntlm-username-not-set"
    NTLM_PASSWORD_FILE_NOT_SET = "integrated-ntlm-password-file-not-set"  # noqa: S105 - a failure name
    NTLM_PASSWORD_UNREADABLE = "integrated-ntlm-password-unreadable"  # noqa: S105 - a failure name
    INTEGRATED_HOST_NOT_ALLOWED = "integrated-host-not-allowed"
    NTLM_CLEARTEXT_REFUSED = "ntlm-cleartext-refused"
    KERBEROS_UNAVAILABLE = "kerberos-unavailable"
    KERBEROS_NO_TICKET = "kerberos-no-ticket"
    KERBEROS_KDC_UNREACHABLE = "kerberos-kdc-unreachable"
    KERBEROS_UNKNOWN_RELAY = "kerberos-unknown-relay-principal"
    KERBEROS_FAILED = "kerberos-failed"
    AUTH_REQUIRED = "auth-required"
    TLS_REQUIRED = "tls-required"
    SENDER_REFUSED = "sender-refused"
    RELAY_DENIED = "relay-denied"
    RELAY_DENIED_FOR_ACCOUNT = "relay-denied-for-account"
    RECIPIENT_REFUSED = "recipient-refused"
    DATA_REFUSED = "data-refused"
    SERVICE_UNAVAILABLE = "service-unavailable"
    DROPPED = "connection-dropped"
    TIMEOUT = "timeout"
    TEST_TIMEOUT = "test-timeout"
    PROTOCOL_ERROR = "protocol-error"
    # Secret references (RelayAuthenticationType 2 and 3, API version 2): stage "config".
    SECRET_PROVIDER_UNKNOWN = "secret-provider-unknown"  # noqa: S105 - a failure name
    SECRET_PROVIDER_DISABLED = "secret-provider-disabled"  # noqa: S105 - a failure name
    SECRET_ENV_NOT_ALLOWED = "secret-env-not-allowed"  # noqa: S105 - a failure name
    SECRET_ENV_UNSET = "secret-env-unset"  # noqa: S105 - a failure name
    SECRET_FILE_NOT_ALLOWED = "secret-file-not-allowed"  # noqa: S105 - a failure name
    SECRET_FILE_UNREADABLE = "secret-file-unreadable"  # noqa: S105 - a failure name
    SECRET_COMMAND_UNKNOWN = "secret-command-unknown"  # noqa: S105 - a failure name
    SECRET_COMMAND_FAILED = "secret-command-failed"  # noqa: S105 - a failure name
    SECRET_UNUSABLE = "secret-value-unusable"  # noqa: S105 - a failure name
    # OAuth 2.0 client credentials (RelayAuthenticationType 3): stage "token", then "auth".
    TOKEN_UNKNOWN_HOST = "token-unknown-host"  # noqa: S105 - a failure name
    TOKEN_UNREACHABLE = "token-endpoint-unreachable"  # noqa: S105 - a failure name
    TOKEN_TIMEOUT = "token-timeout"  # noqa: S105 - a failure name
    TOKEN_EGRESS_DENIED = "token-egress-denied"  # noqa: S105 - a failure name
    TOKEN_TLS_FAILED = "token-tls-failed"  # noqa: S105 - a failure name
    TOKEN_INVALID_CLIENT = "token-invalid-client"  # noqa: S105 - a failure name
    TOKEN_INVALID_SCOPE = "token-invalid-scope"  # noqa: S105 - a failure name
    TOKEN_REFUSED = "token-request-refused"  # noqa: S105 - a failure name
    TOKEN_SERVER_ERROR = "token-endpoint-error"  # noqa: S105 - a failure name
    TOKEN_BAD_RESPONSE = "token-bad-response"  # noqa: S105 - a failure name
    OAUTH_NOT_OFFERED = "oauth-not-offered"
    OAUTH_TOKEN_REJECTED = "oauth-token-rejected"  # noqa: S105 - a failure name


@dataclass(frozen=True, slots=True)
class Hint:
    cause: str
    fix: str

    def text(self) -> str:
        return f"{self.cause} {self.fix}"
