"""The README's "Troubleshooting a relay" table, generated from the hint catalogue.

Run ``python -m smtp_profile.troubleshooting`` to print it; a test checks that the
README carries every hint verbatim.
"""

from __future__ import annotations

from smtp_profile.mail.diagnosis import HINTS

# The step at which each failure class is reported.
STAGES: dict[str, str] = {
    "unknown-host": "resolve",
    "connection-refused": "connect",
    "unreachable": "connect",
    "connect-timeout": "connect",
    "egress-denied": "connect",
    "no-greeting": "greeting",
    "no-greeting-implicit-port": "greeting",
    "greeting-refused": "greeting",
    "tls-on-plain-port": "tls",
    "tls-timeout": "tls",
    "starttls-not-offered": "tls",
    "starttls-refused": "tls",
    "certificate-untrusted": "tls",
    "certificate-expired": "tls",
    "certificate-wrong-name": "tls",
    "tls-failed": "tls",
    "ehlo-refused": "ehlo",
    "cleartext-auth-refused": "auth",
    "auth-not-offered": "auth",
    "auth-only-after-tls": "auth",
    "no-common-mechanism": "auth",
    "auth-failed": "auth",
    "auth-needs-encryption": "auth",
    "auth-temporary": "auth",
    "integrated-not-configured": "auth",
    "integrated-kerberos-principal-not-set": "auth",
    "integrated-kerberos-keytab-not-set": "auth",
    "integrated-ntlm-username-not-set": "auth",
    "integrated-ntlm-password-file-not-set": "auth",
    "integrated-ntlm-password-unreadable": "auth",
    "integrated-host-not-allowed": "auth",
    "ntlm-cleartext-refused": "auth",
    "kerberos-unavailable": "auth",
    "kerberos-no-ticket": "auth",
    "kerberos-kdc-unreachable": "auth",
    "kerberos-unknown-relay-principal": "auth",
    "kerberos-failed": "auth",
    "auth-required": "mail / rcpt",
    "tls-required": "mail",
    "sender-refused": "mail",
    "relay-denied": "rcpt",
    "relay-denied-for-account": "rcpt",
    "recipient-refused": "rcpt",
    "data-refused": "data",
    "secret-provider-unknown": "config",
    "secret-provider-disabled": "config",
    "secret-env-not-allowed": "config",
    "secret-env-unset": "config",
    "secret-file-not-allowed": "config",
    "secret-file-unreadable": "config",
    "secret-command-unknown": "config",
    "secret-command-failed": "config",
    "secret-value-unusable": "config",
    "token-unknown-host": "token",
    "token-endpoint-unreachable": "token",
    "token-timeout": "token",
    "token-egress-denied": "token",
    "token-tls-failed": "token",
    "token-invalid-client": "token",
    "token-invalid-scope": "token",
    "token-request-refused": "token",
    "token-endpoint-error": "token",
    "token-bad-response": "token",
    "oauth-not-offered": "auth",
    "oauth-token-rejected": "auth",
}


def troubleshooting_table() -> str:
    lines = ["| Failure | Step | Likely cause | What to change |", "|---|---|---|---|"]
    for failure, hint in HINTS.items():
        stage = STAGES.get(failure.value, "any")
        lines.append(f"| `{failure.value}` | {stage} | {hint.cause} | {hint.fix} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(troubleshooting_table())
