"""Hints for the SMTP conversation with the relay: the likely cause and what to change."""

from __future__ import annotations

from smtp_profile.mail.failure_kinds import Failure, Hint

RELAY_HINTS: dict[Failure, Hint] = {
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
        "The password (or OAuth token) would travel unencrypted to a host that is not this "
        "machine.",
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
        "The server offers no login mechanism this service supports (PLAIN, LOGIN, CRAM-MD5; "
        "with RelayAuthenticationType 1, GSSAPI or NTLM for the identity the operator "
        "configured).",
        "Enable PLAIN or LOGIN on the relay, or use integrated authentication "
        "(RelayAuthenticationType 1); with type 1, enable GSSAPI or NTLM on the relay, or "
        "ask the operator to configure the identity for the mechanism the relay offers "
        "(SMTP_PROFILE_KERBEROS_* for GSSAPI, SMTP_PROFILE_NTLM_* for NTLM).",
    ),
    Failure.AUTH_FAILED: Hint(
        "The relay rejected the user name or password (with RelayAuthenticationType 1: the "
        "service's own identity).",
        "Check RelayUsername and RelayPassword; try the other user name form "
        "(DOMAIN\\user or user@domain); some relays also require SenderAccount to be "
        "the mailbox of that user. With type 1, ask the relay's administrator to allow the "
        "service's identity (SMTP_PROFILE_KERBEROS_PRINCIPAL or SMTP_PROFILE_NTLM_USERNAME) "
        "and check the password in SMTP_PROFILE_NTLM_PASSWORD_FILE.",
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
        "Ask the operator to set SMTP_PROFILE_KERBEROS_KEYTAB and "
        "SMTP_PROFILE_KERBEROS_PRINCIPAL (Kerberos), or SMTP_PROFILE_NTLM_USERNAME and "
        "SMTP_PROFILE_NTLM_PASSWORD_FILE (NTLM); or use RelayAuthenticationType 2 with a "
        "user name and password.",
    ),
    Failure.KERBEROS_PRINCIPAL_NOT_SET: Hint(
        "SMTP_PROFILE_KERBEROS_KEYTAB is set but SMTP_PROFILE_KERBEROS_PRINCIPAL is not, so "
        "the service does not know which identity of the keytab to use.",
        "Set SMTP_PROFILE_KERBEROS_PRINCIPAL to the service's principal "
        "(e.g. smtp-profile@EXAMPLE.COM).",
    ),
    Failure.KERBEROS_KEYTAB_NOT_SET: Hint(
        "SMTP_PROFILE_KERBEROS_PRINCIPAL is set but the service has neither a keytab nor a "
        "ticket cache for it.",
        "Set SMTP_PROFILE_KERBEROS_KEYTAB to the principal's keytab (or "
        "SMTP_PROFILE_KERBEROS_CCACHE to a ticket cache that is kept renewed).",
    ),
    Failure.NTLM_USERNAME_NOT_SET: Hint(
        "SMTP_PROFILE_NTLM_PASSWORD_FILE is set but SMTP_PROFILE_NTLM_USERNAME is not.",
        "Set SMTP_PROFILE_NTLM_USERNAME to the service account (DOMAIN\\user or user@domain).",
    ),
    Failure.NTLM_PASSWORD_FILE_NOT_SET: Hint(
        "SMTP_PROFILE_NTLM_USERNAME is set but SMTP_PROFILE_NTLM_PASSWORD_FILE is not.",
        "Set SMTP_PROFILE_NTLM_PASSWORD_FILE to a file, readable only by the service, that "
        "holds the account's password.",
    ),
    Failure.NTLM_PASSWORD_UNREADABLE: Hint(
        "The service cannot read its NTLM password: the file is missing, unreadable, not "
        "UTF-8 or empty.",
        "Check that the file SMTP_PROFILE_NTLM_PASSWORD_FILE names exists, is readable by "
        "the service's user and holds the password on its first line.",
    ),
    Failure.INTEGRATED_HOST_NOT_ALLOWED: Hint(
        "The operator allows the service's own identity only with the relays listed in "
        "SMTP_PROFILE_INTEGRATED_RELAY_HOSTS, and Host is not one of them.",
        "Set Host to one of those relays, or ask the operator to add it to "
        "SMTP_PROFILE_INTEGRATED_RELAY_HOSTS.",
    ),
    Failure.NTLM_CLEARTEXT_REFUSED: Hint(
        "NTLM would send a password-derived answer without encryption to a host that is not "
        "this machine, where it could be captured and cracked or relayed.",
        "Turn UseSSL on (587 with STARTTLS, or 465), use Kerberos, or have the operator set "
        "SMTP_PROFILE_ALLOW_CLEARTEXT_AUTH on a trusted network.",
    ),
    Failure.KERBEROS_UNAVAILABLE: Hint(
        "This installation has no Kerberos support: the Python package gssapi (or the "
        "system's libgssapi-krb5) is missing.",
        "Install gssapi in the service's environment (building it needs libkrb5-dev), or "
        "use NTLM: set SMTP_PROFILE_NTLM_USERNAME and SMTP_PROFILE_NTLM_PASSWORD_FILE.",
    ),
    Failure.KERBEROS_NO_TICKET: Hint(
        "The service could not get a Kerberos ticket for its own identity: the keytab is "
        "unreadable or holds no current key for the principal, the KDC does not know or "
        "refuses the principal, or the ticket cache is empty or expired.",
        "Check SMTP_PROFILE_KERBEROS_KEYTAB and SMTP_PROFILE_KERBEROS_PRINCIPAL (klist -k "
        "lists the keytab; export it again after a key change), or renew the ticket in "
        "SMTP_PROFILE_KERBEROS_CCACHE.",
    ),
    Failure.KERBEROS_KDC_UNREACHABLE: Hint(
        "The service cannot reach a Kerberos KDC for its realm.",
        "Check that the krb5.conf the service reads (/etc/krb5.conf, or the file in "
        "KRB5_CONFIG) names the realm's KDCs, and that this machine reaches them (port 88).",
    ),
    Failure.KERBEROS_UNKNOWN_RELAY: Hint(
        "The KDC knows no Kerberos service principal for this relay (smtp/ followed by Host).",
        "Set Host to the relay's host name as registered in Kerberos, not an IP address or "
        "alias; the relay's administrator registers smtp/<host name> (the operator can "
        "change the service part with SMTP_PROFILE_KERBEROS_SERVICE).",
    ),
    Failure.KERBEROS_FAILED: Hint(
        "The Kerberos (GSSAPI) exchange with the relay failed; the error above says why.",
        "Check this machine's clock (Kerberos allows 5 minutes of difference), that the "
        "relay's keytab matches its principal, and the KDC's and the relay's logs.",
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
    Failure.RELAY_DENIED_FOR_ACCOUNT: Hint(
        "The relay accepted the login but does not let this account send to the "
        "recipient's domain.",
        "Ask the relay's administrator to allow this account to relay to that domain, or "
        "use a TestRecipient in a domain the relay delivers.",
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
    Failure.TEST_TIMEOUT: Hint(
        "The whole test took longer than this server allows.",
        "Check the relay's load and the network; the operator can raise SMTP_PROFILE_TEST_TIMEOUT.",
    ),
    Failure.PROTOCOL_ERROR: Hint(
        "The server's answer is not valid SMTP.",
        "Check Port: this may be another service (HTTP, IMAP, POP3).",
    ),
}
