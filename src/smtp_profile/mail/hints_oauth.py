"""Hints for secret references (stage ``config``) and OAuth 2.0 (stages ``token`` and
``auth``): the likely cause and the setting or field to change."""

from __future__ import annotations

from smtp_profile.mail.failure_kinds import Failure, Hint

SECRET_HINTS: dict[Failure, Hint] = {
    Failure.SECRET_PROVIDER_UNKNOWN: Hint(
        "A secret names a Provider this service does not know.",
        "Use Provider 1 (environment variable), 2 (file) or 3 (command), or give the secret "
        "itself in SecretValue.",
    ),
    Failure.SECRET_PROVIDER_DISABLED: Hint(
        "A secret refers to a provider the operator has not enabled on this server.",
        "Ask the operator to enable it (SMTP_PROFILE_SECRET_ENV_ALLOW for environment "
        "variables, SMTP_PROFILE_SECRET_FILE_DIRS for files, SMTP_PROFILE_SECRET_COMMANDS for "
        "commands), or give the secret in SecretValue.",
    ),
    Failure.SECRET_ENV_NOT_ALLOWED: Hint(
        "A secret refers to an environment variable the operator does not allow "
        "(variables named SMTP_PROFILE_* never are).",
        "Use a variable listed in SMTP_PROFILE_SECRET_ENV_ALLOW, or ask the operator to add it.",
    ),
    Failure.SECRET_ENV_UNSET: Hint(
        "The environment variable a secret refers to is not set (or empty) in this service's "
        "environment.",
        "Check the variable's name in Parameters.Name, or ask the operator to set it for the "
        "service.",
    ),
    Failure.SECRET_FILE_NOT_ALLOWED: Hint(
        "A secret refers to a file outside the directories the operator allows (symbolic "
        "links and '..' are resolved first).",
        "Use a file inside a directory listed in SMTP_PROFILE_SECRET_FILE_DIRS, or ask the "
        "operator to add the directory.",
    ),
    Failure.SECRET_FILE_UNREADABLE: Hint(
        "The file a secret refers to is missing, not a regular file, unreadable by the "
        "service, empty, not UTF-8 or larger than SMTP_PROFILE_SECRET_MAX_BYTES.",
        "Check Parameters.Path and the file's permissions (the service's user must read it).",
    ),
    Failure.SECRET_COMMAND_UNKNOWN: Hint(
        "A secret names a command the operator has not configured.",
        "Use a command name from SMTP_PROFILE_SECRET_COMMANDS in Parameters.Name, or ask the "
        "operator to add it.",
    ),
    Failure.SECRET_COMMAND_FAILED: Hint(
        "The command a secret refers to failed: it exited with an error, took longer than "
        "SMTP_PROFILE_SECRET_COMMAND_TIMEOUT, printed nothing, or printed more than "
        "SMTP_PROFILE_SECRET_MAX_BYTES.",
        "Ask the operator to check the command configured in SMTP_PROFILE_SECRET_COMMANDS "
        "(run it as the service's user).",
    ),
    Failure.SECRET_UNUSABLE: Hint(
        "A referenced secret was read but cannot be used: a user name or client ID with "
        "control characters or spaces at its ends, or a password with NUL, CR or LF.",
        "Check what the variable, file or command gives: one line (a trailing newline is dropped).",
    ),
}

OAUTH_HINTS: dict[Failure, Hint] = {
    Failure.TOKEN_UNKNOWN_HOST: Hint(
        "The host name in TokenEndpoint does not resolve.",
        "Check TokenEndpoint for typos (Microsoft 365: "
        "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token).",
    ),
    Failure.TOKEN_UNREACHABLE: Hint(
        "The token endpoint refused the connection or cannot be reached.",
        "Check TokenEndpoint (its port) and that this service may connect out to it "
        "(firewall, proxy).",
    ),
    Failure.TOKEN_TIMEOUT: Hint(
        "The token endpoint did not answer in time.",
        "Check TokenEndpoint and the network path to it; the operator can raise "
        "SMTP_PROFILE_COMMAND_TIMEOUT.",
    ),
    Failure.TOKEN_EGRESS_DENIED: Hint(
        "This server's egress policy does not allow connecting to the token endpoint's "
        "address or port (link-local and cloud metadata addresses are always refused by "
        "default).",
        "Set TokenEndpoint to the identity provider's real address, or ask the operator to "
        "adjust SMTP_PROFILE_EGRESS_ALLOW, SMTP_PROFILE_EGRESS_DENY or "
        "SMTP_PROFILE_EGRESS_PORTS.",
    ),
    Failure.TOKEN_TLS_FAILED: Hint(
        "The TLS handshake with the token endpoint failed (untrusted or expired certificate, "
        "or one for another name).",
        "Check that TokenEndpoint names the host its certificate is for; for a private CA set "
        "SMTP_PROFILE_CA_FILE.",
    ),
    Failure.TOKEN_INVALID_CLIENT: Hint(
        "The token endpoint does not accept the client: unknown ClientId, wrong or expired "
        "ClientSecret, or an authentication method it does not allow.",
        "Check ClientId and ClientSecret (a new client secret in Microsoft Entra ID has a new "
        "value, not its ID) and that TokenEndpoint is the client's tenant.",
    ),
    Failure.TOKEN_INVALID_SCOPE: Hint(
        "The token endpoint refused the requested Scope (or Audience).",
        "Set Scope to what the relay accepts (Microsoft 365: "
        "https://outlook.office365.com/.default) and check Audience.",
    ),
    Failure.TOKEN_REFUSED: Hint(
        "The token endpoint refused the client-credentials request (its error says why).",
        "Check that the client may use the client-credentials grant and check TokenEndpoint, "
        "Scope and Audience.",
    ),
    Failure.TOKEN_SERVER_ERROR: Hint(
        "The token endpoint failed (a 5xx answer) or answered with an unexpected status.",
        "Try again later; check TokenEndpoint (it must be the token URL itself, not a "
        "redirecting page).",
    ),
    Failure.TOKEN_BAD_RESPONSE: Hint(
        "The token endpoint's answer is not an OAuth token response (not JSON, or no "
        "access_token of type Bearer).",
        "Check TokenEndpoint: it must be the identity provider's OAuth 2.0 token URL.",
    ),
    Failure.OAUTH_NOT_OFFERED: Hint(
        "The relay offers no OAuth login (SASL XOAUTH2 or OAUTHBEARER) on this connection.",
        "Use the relay's submission port with UseSSL (Microsoft 365: smtp.office365.com port "
        "587), or another RelayAuthenticationType.",
    ),
    Failure.OAUTH_TOKEN_REJECTED: Hint(
        "The relay rejected the OAuth token, also a freshly obtained one.",
        "Check that the client may send mail as this mailbox (RelayUsername, else "
        "SenderAccount; Microsoft 365 needs the SMTP.SendAsApp permission and the service "
        "principal granted on the mailbox) and that Scope is for this relay.",
    ),
}
