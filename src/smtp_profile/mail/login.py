"""The AUTH step: a password (PLAIN, LOGIN, CRAM-MD5), the service's own identity, or
an OAuth bearer token (:mod:`smtp_profile.mail.oauth_login`)."""

from __future__ import annotations

from collections.abc import Callable

import aiosmtplib

from smtp_profile.egress import is_loopback
from smtp_profile.mail.diagnosis import Failure, Stage, classify_reply
from smtp_profile.mail.failures import StepFailed, refused, translate
from smtp_profile.mail.integrated import IntegratedAuthError, authenticate
from smtp_profile.mail.oauth_login import log_in_oauth
from smtp_profile.mail.plan import Credentials, Integrated, Login, OAuthLogin
from smtp_profile.mail.recording import RecordingSMTP
from smtp_profile.mail.transcript import Transcript


async def log_in(
    smtp: RecordingSMTP,
    login: Login,
    *,
    host: str,
    port: int,
    peer: str | None,
    allow_cleartext: bool,
    transcript: Transcript,
    set_stage: Callable[[Stage], None],
) -> None:
    encrypted = smtp.get_transport_info("sslcontext") is not None
    cleartext_ok = encrypted or allow_cleartext or is_loopback(peer)
    try:
        if isinstance(login, OAuthLogin):
            await log_in_oauth(
                smtp,
                login,
                host=host,
                port=port,
                cleartext_ok=cleartext_ok,
                transcript=transcript,
                set_stage=set_stage,
            )
        elif isinstance(login, Integrated):
            await authenticate(
                smtp,
                login.identity,
                host=host,
                transcript=transcript,
                encrypted=encrypted,
                cleartext_allowed=allow_cleartext or is_loopback(peer),
            )
        else:
            await _with_password(smtp, login, cleartext_ok=cleartext_ok, transcript=transcript)
    except IntegratedAuthError as exc:
        raise StepFailed(Stage.AUTH, exc.failure, exc.detail) from None
    except aiosmtplib.SMTPResponseException as exc:
        failure = classify_reply(Stage.AUTH, exc.code, exc.message)
        raise refused(Stage.AUTH, failure, exc.code, exc.message) from None
    except StepFailed:
        raise
    except Exception as exc:
        raise translate(exc, Stage.AUTH) from None


async def _with_password(
    smtp: RecordingSMTP, login: Credentials, *, cleartext_ok: bool, transcript: Transcript
) -> None:
    """The strongest mechanism both sides speak, tried once (no guessing round)."""
    encrypted = smtp.get_transport_info("sslcontext") is not None
    if not cleartext_ok:
        raise StepFailed(
            Stage.AUTH,
            Failure.CLEARTEXT_AUTH_REFUSED,
            "the password would be sent without encryption; nothing was sent",
        )
    if not smtp.supports_extension("auth"):
        after_tls = not encrypted and smtp.supports_extension("starttls")
        failure = Failure.AUTH_ONLY_AFTER_TLS if after_tls else Failure.AUTH_NOT_OFFERED
        raise StepFailed(Stage.AUTH, failure, "the server does not offer AUTH here")
    mechanisms = smtp.supported_auth_methods
    if not mechanisms:
        offered = smtp.esmtp_extensions.get("auth", "").strip() or "none"
        raise StepFailed(
            Stage.AUTH,
            Failure.NO_COMMON_MECHANISM,
            f"the server offers {offered}; this service speaks PLAIN, LOGIN and CRAM-MD5",
        )
    mechanism = mechanisms[0]
    transcript.note(f"authenticating as {login.username} with {mechanism.upper()}")
    method = getattr(smtp, f"auth_{mechanism.replace('-', '')}")
    smtp.redacting = True
    try:
        await method(login.username, login.password.reveal())
    finally:
        smtp.redacting = False
