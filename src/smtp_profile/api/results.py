"""The JSON body of a Test result: the echo of §1 plus the diagnosis of §6."""

from __future__ import annotations

from typing import Any

from smtp_profile.errors import STAGE_CODES
from smtp_profile.mail.plan import TestOutcome
from smtp_profile.profile import TestRequest, profile_view


def diagnosis(outcome: TestOutcome) -> dict[str, Any]:
    return {
        "Success": outcome.success,
        "Stage": str(outcome.stage),
        "Failure": str(outcome.failure) if outcome.failure else None,
        "SmtpCode": outcome.smtp_code,
        "SmtpMessage": outcome.smtp_message,
        "Hint": outcome.hint,
        "Transcript": outcome.transcript,
        "DurationMs": outcome.duration_ms,
        "Tls": outcome.tls.as_json() if outcome.tls else None,
        "ConnectedAddress": outcome.connected_address,
        "StoppedAfter": str(outcome.stopped_after) if outcome.stopped_after else None,
    }


def test_result_body(request: TestRequest, outcome: TestOutcome) -> dict[str, Any]:
    """Success: the echo plus the diagnosis. Failure: the error body plus the diagnosis."""
    if not outcome.success:
        return {
            "ErrorCode": STAGE_CODES[str(outcome.stage)],
            "Message": outcome.summary(),
            **diagnosis(outcome),
        }
    echo = profile_view(request.profile.settings, has_password=False)
    echo.pop("HasPassword")
    return {**echo, "TestRecipient": request.recipient, **diagnosis(outcome)}
