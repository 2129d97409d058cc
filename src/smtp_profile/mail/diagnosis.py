"""The hint catalogue: for each failure class, the likely cause and what to change.

Pure. The sender classifies what went wrong into a :class:`Failure` kind; this
module turns it into words. The README's troubleshooting table is generated
from :data:`HINTS`, so the two cannot disagree.
"""

from __future__ import annotations

import re
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
    AUTH_REQUIRED = "auth-required"
    TLS_REQUIRED = "tls-required"
    SENDER_REFUSED = "sender-refused"
    RELAY_DENIED = "relay-denied"
    RECIPIENT_REFUSED = "recipient-refused"
    DATA_REFUSED = "data-refused"
    SERVICE_UNAVAILABLE = "service-unavailable"
    DROPPED = "connection-dropped"
    TIMEOUT = "timeout"
    PROTOCOL_ERROR = "protocol-error"


@dataclass(frozen=True, slots=True)
class Hint:
    cause: str
    fix: str

    def text(self) -> str:
        return f"{self.cause} {self.fix}"


HINTS: dict[Failure, Hint] = {
    Failure.UNKNOWN_HOST: Hint(
        "The relay's host name does not resolve.",
        "Check Host for typos, or use the relay's IP address.",
    ),
    Failure.REFUSED: Hint(
        "Nothing accepts connections on this host and port.",
        "Check Port (25, 587 and 465 are usual) and that the relay is running.",
    ),
    Failure.UNREACHABLE: Hint(
        "The network path to the relay failed.",
        "Check Host, routing and firewalls between this service and the relay.",
    ),
    Failure.CONNECT_TIMEOUT: Hint(
        "The relay did not accept the connection in time; a firewall may drop it.",
        "Check Host and Port, and that outbound connections to that port are allowed.",
    ),
    Failure.EGRESS_DENIED: Hint(
        "This server's egress policy does not allow Tests to connect to that address or "
        "port (link-local and cloud metadata addresses are always refused by default).",
        "Use the relay's real address and port, or ask the operator to adjust "
        "SMTP_PROFILE_EGRESS_ALLOW, SMTP_PROFILE_EGRESS_DENY or SMTP_PROFILE_EGRESS_PORTS.",
    ),
    Failure.NO_GREETING: Hint(
        "The server accepted the connection but never greeted.",
        "Check Port: this may not be an SMTP port, or the server expects TLS from the "
        "first byte (then set UseSSL with port 465).",
    ),
    Failure.NO_GREETING_IMPLICIT_PORT: Hint(
        "The server speaks TLS from the first byte on this port and waits for a TLS handshake.",
        "Set UseSSL, or use port 587 for STARTTLS.",
    ),
    Failure.TLS_ON_PLAIN_PORT: Hint(
        "The server answered in plain text where a TLS handshake was expected.",
        "This port uses STARTTLS or no TLS: use port 587 or 25 with UseSSL for STARTTLS, "
        "or turn UseSSL off.",
    ),
    Failure.TLS_TIMEOUT: Hint(
        "The TLS handshake did not complete in time.",
        "Check that this port really speaks TLS, and the network between the two sides.",
    ),
    Failure.STARTTLS_NOT_OFFERED: Hint(
        "UseSSL is on but the server does not offer STARTTLS on this port; the test "
        "never falls back to a plain connection.",
        "Use the relay's submission port (587) or implicit TLS (465), or turn UseSSL off "
        "if the relay is on a trusted network.",
    ),
    Failure.STARTTLS_REFUSED: Hint(
        "The server offered STARTTLS but refused to start it.",
        "Check the relay's TLS configuration (certificate and key) or its logs.",
    ),
    Failure.CERT_UNTRUSTED: Hint(
        "The relay's certificate is not signed by a trusted authority (self-signed or "
        "a private CA).",
        "Install the CA certificate and set SMTP_PROFILE_CA_FILE to it.",
    ),
    Failure.CERT_EXPIRED: Hint(
        "The relay's certificate has expired (or is not yet valid).",
        "Renew the certificate on the relay; check this machine's clock.",
    ),
    Failure.CERT_WRONG_NAME: Hint(
        "The relay's certificate is for another name than Host.",
        "Set Host to a name the certificate lists (see the certificate subject), not an "
        "alias or IP address.",
    ),
    Failure.TLS_FAILED: Hint(
        "The TLS handshake failed.",
        "Check that both sides share a TLS version and cipher; the error above says more.",
    ),
    Failure.GREETING_REFUSED: Hint(
        "The server refused the session in its greeting.",
        "The relay may not accept connections from this machine: check its access rules.",
    ),
    Failure.EHLO_REFUSED: Hint(
        "The server refused the EHLO/HELO greeting.",
        "The relay may require a resolvable client name: set SMTP_PROFILE_HELO_NAME.",
    ),
    Failure.CLEARTEXT_AUTH_REFUSED: Hint(
        "The password would travel unencrypted to a host that is not this machine.",
        "Turn UseSSL on (587 with STARTTLS or 465), or have the operator set "
        "SMTP_PROFILE_ALLOW_CLEARTEXT_AUTH on a trusted network.",
    ),
    Failure.AUTH_NOT_OFFERED: Hint(
        "The server does not offer authentication on this port.",
        "Use anonymous relay (RelayAuthenticationType 0) if the relay trusts this host, "
        "or the relay's submission port (587).",
    ),
    Failure.AUTH_ONLY_AFTER_TLS: Hint(
        "The server offers authentication only after TLS.",
        "Turn UseSSL on (STARTTLS on this port, or port 465).",
    ),
    Failure.NO_COMMON_MECHANISM: Hint(
        "The server offers no login mechanism this service supports (PLAIN, LOGIN, CRAM-MD5).",
        "Enable PLAIN or LOGIN on the relay, or use integrated authentication "
        "(RelayAuthenticationType 1).",
    ),
    Failure.AUTH_FAILED: Hint(
        "The relay rejected the user name or password.",
        "Check RelayUsername and RelayPassword; try the other user name form "
        "(DOMAIN\\user or user@domain); some relays also require SenderAccount to be "
        "the mailbox of that user.",
    ),
    Failure.AUTH_NEEDS_ENCRYPTION: Hint(
        "The relay requires an encrypted connection (or a stronger mechanism) to log in.",
        "Turn UseSSL on.",
    ),
    Failure.AUTH_TEMPORARY: Hint(
        "The relay could not check the credentials right now.",
        "Try again later; if it persists, check the relay's authentication backend.",
    ),
    Failure.INTEGRATED_NOT_CONFIGURED: Hint(
        "Integrated authentication (type 1) uses this service's own identity, and none "
        "is configured on this server.",
        "Use RelayAuthenticationType 2 with a user name and password, or ask the operator "
        "to configure the service identity.",
    ),
    Failure.AUTH_REQUIRED: Hint(
        "The relay requires authentication before it accepts mail.",
        "Set RelayAuthenticationType 2 with RelayUsername and RelayPassword.",
    ),
    Failure.TLS_REQUIRED: Hint(
        "The relay requires TLS (STARTTLS) before it accepts mail.",
        "Turn UseSSL on (STARTTLS on this port, or port 465).",
    ),
    Failure.SENDER_REFUSED: Hint(
        "The relay refused the sender address.",
        "Set SenderAccount to an address the relay lets this login send as.",
    ),
    Failure.RELAY_DENIED: Hint(
        "The relay refuses to forward mail to the recipient's domain for this client.",
        "Log in (RelayAuthenticationType 2), or ask the relay's administrator to allow "
        "this host to relay.",
    ),
    Failure.RECIPIENT_REFUSED: Hint(
        "The relay refused the recipient address.",
        "Check TestRecipient; the mailbox may not exist.",
    ),
    Failure.DATA_REFUSED: Hint(
        "The relay refused the message content (its reply says why: size, spam filter or "
        "sender policy).",
        "Check that SenderAccount and SenderName are allowed by the relay's sender policy, "
        "or ask the relay's administrator to accept mail from this sender.",
    ),
    Failure.SERVICE_UNAVAILABLE: Hint(
        "The relay is temporarily unavailable (421) and closed the connection.",
        "Try again later; if it persists, the relay may be overloaded or limiting this client.",
    ),
    Failure.DROPPED: Hint(
        "The relay closed the connection unexpectedly.",
        "Check the relay's logs; a firewall or a TLS mismatch (UseSSL and Port) can "
        "also cause this.",
    ),
    Failure.TIMEOUT: Hint(
        "The relay stopped answering.",
        "Check the relay's load and logs; the operator can raise SMTP_PROFILE_COMMAND_TIMEOUT.",
    ),
    Failure.PROTOCOL_ERROR: Hint(
        "The server's answer is not valid SMTP.",
        "Check Port: this may be another service (HTTP, IMAP, POP3).",
    ),
}


_RELAY_DENIED = re.compile(
    r"relay(ing)? (access )?(is )?(denied|not permitted|prohibited|not allowed)"
    r"|unable to relay|not permitted to relay|relay not allowed"
)


def hint_for(failure: Failure) -> Hint:
    return HINTS[failure]


def classify_reply(stage: Stage, code: int, message: str) -> Failure:
    """A failure kind from the step and the server's reply."""
    text = message.lower()
    if not 200 <= code <= 599:  # aiosmtplib reports an unparsable reply as code -1
        return Failure.PROTOCOL_ERROR
    if code == 421:
        return Failure.SERVICE_UNAVAILABLE
    if stage is Stage.GREETING:
        return Failure.GREETING_REFUSED
    if stage is Stage.EHLO:
        return Failure.EHLO_REFUSED
    if stage is Stage.TLS:
        return Failure.STARTTLS_REFUSED
    if stage is Stage.AUTH:
        if code in (534, 538) or "encrypt" in text:
            return Failure.AUTH_NEEDS_ENCRYPTION
        if 400 <= code < 500:
            return Failure.AUTH_TEMPORARY
        return Failure.AUTH_FAILED
    if "starttls" in text:
        return Failure.TLS_REQUIRED
    if code == 530 or "authentication required" in text:
        return Failure.AUTH_REQUIRED
    if stage is Stage.MAIL:
        return Failure.SENDER_REFUSED
    if stage is Stage.RCPT:
        if _RELAY_DENIED.search(text):
            return Failure.RELAY_DENIED
        return Failure.RECIPIENT_REFUSED
    if stage is Stage.DATA:
        return Failure.DATA_REFUSED
    return Failure.PROTOCOL_ERROR
