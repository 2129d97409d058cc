"""The AUTH step of type 3: a bearer token from the token source, then SASL XOAUTH2 (or
OAUTHBEARER where only that is offered), retried once with a fresh token when the relay
rejects it.

The whole AUTH line and the client's answer to an error challenge are recorded as
``***``; the token is a transcript secret besides, so no form of it can appear.
"""

from __future__ import annotations

from collections.abc import Callable

from smtp_profile.mail.diagnosis import Failure, Stage, classify_reply
from smtp_profile.mail.failures import StepFailed, refused
from smtp_profile.mail.plan import OAuthLogin
from smtp_profile.mail.recording import RecordingSMTP
from smtp_profile.mail.transcript import Transcript
from smtp_profile.oauth import sasl

ACCEPTED = 235
CHALLENGE = 334


async def log_in_oauth(
    smtp: RecordingSMTP,
    login: OAuthLogin,
    *,
    host: str,
    port: int,
    cleartext_ok: bool,
    transcript: Transcript,
    set_stage: Callable[[Stage], None],
) -> None:
    mechanism = _mechanism(smtp, cleartext_ok=cleartext_ok)
    for attempt in (1, 2):
        set_stage(Stage.TOKEN)
        token = await login.tokens.token(login.grant, fresh=attempt > 1, transcript=transcript)
        set_stage(Stage.AUTH)
        transcript.note(f"authenticating as {login.user} with {mechanism} and a bearer token")
        initial = sasl.initial_response(mechanism, login.user, token.reveal(), host=host, port=port)
        code, message = await _exchange(smtp, mechanism, initial)
        if code == ACCEPTED:
            return
        failure = classify_reply(Stage.AUTH, code, message)
        if attempt == 1 and failure is Failure.AUTH_FAILED and smtp.is_connected:
            transcript.note("the relay rejected the token; trying once more with a fresh token")
            continue
        if failure is Failure.AUTH_FAILED:
            failure = Failure.OAUTH_TOKEN_REJECTED
        raise refused(Stage.AUTH, failure, code, message)


def _mechanism(smtp: RecordingSMTP, *, cleartext_ok: bool) -> sasl.OAuthMechanism:
    if not cleartext_ok:
        raise StepFailed(
            Stage.AUTH,
            Failure.CLEARTEXT_AUTH_REFUSED,
            "the OAuth token would be sent without encryption; nothing was sent",
        )
    encrypted = smtp.get_transport_info("sslcontext") is not None
    if not smtp.supports_extension("auth"):
        after_tls = not encrypted and smtp.supports_extension("starttls")
        failure = Failure.AUTH_ONLY_AFTER_TLS if after_tls else Failure.AUTH_NOT_OFFERED
        raise StepFailed(Stage.AUTH, failure, "the server does not offer AUTH here")
    offered = smtp.esmtp_extensions.get("auth", "").strip()
    mechanism = sasl.choose(offered)
    if mechanism is None:
        raise StepFailed(
            Stage.AUTH,
            Failure.OAUTH_NOT_OFFERED,
            f"the server offers {offered or 'no mechanism'}; OAuth needs XOAUTH2 or OAUTHBEARER",
        )
    return mechanism


async def _exchange(
    smtp: RecordingSMTP, mechanism: sasl.OAuthMechanism, initial: bytes
) -> tuple[int, str]:
    """``AUTH <mechanism> <initial response>``; an error challenge (334 with a JSON
    status) is answered as the mechanism prescribes to get the final reply."""
    smtp.redacting = True
    try:
        response = await smtp.execute_command(b"AUTH", mechanism.value.encode(), initial)
        if response.code == CHALLENGE:
            response = await smtp.execute_command(sasl.abort_response(mechanism))
    finally:
        smtp.redacting = False
    return response.code, response.message
