"""The JSON body of a Test result: the echo of §1 plus the diagnosis of §6."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtp_profile.errors import STAGE_CODES
from smtp_profile.mail.plan import TestOutcome
from smtp_profile.profile import ProfileRequest, TestRequest, profile_view


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


def echo_v1(request: ProfileRequest) -> dict[str, Any]:
    echo = profile_view(request.settings, has_password=False)
    echo.pop("HasPassword")
    return echo


def test_result_body(
    request: TestRequest,
    outcome: TestOutcome,
    echo: Callable[[ProfileRequest], dict[str, Any]] = echo_v1,
) -> dict[str, Any]:
    """Success: the echo (of the request's API version) plus the diagnosis. Failure: the
    error body plus the diagnosis (the same in every version)."""
    if not outcome.success:
        return {
            "ErrorCode": STAGE_CODES[str(outcome.stage)],
            "Message": outcome.summary(),
            **diagnosis(outcome),
        }
    return {**echo(request.profile), "TestRecipient": request.recipient, **diagnosis(outcome)}
